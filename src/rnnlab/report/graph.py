"""The network as the article draws it: the recurrent cell folded, and unrolled over real input.

Folded: x -> [h] -> y with the recurrent loop on h. Unrolled: one copy of the cell per
step, the same weights on every arrow. The vanilla cell's arrows are labelled Wxh, Whh
and Why; the LSTM's and GRU's with their gate matrices (PyTorch's names: W_ii, W_if, ...
for the input side, W_hi, W_hf, ... for the recurrent side).
"""
import numpy as np

MATRICES = {   # (input side, recurrent side) by the layer's mode
    "RNN_TANH": ("Wxh", "Whh"), "RNN_RELU": ("Wxh", "Whh"),
    "LSTM": ("W_ii W_if W_ig W_io", "W_hi W_hf W_hg W_ho"),
    "GRU": ("W_ir W_iz W_in", "W_hr W_hz W_hn"),
}
CELL_NAMES = {"RNN_TANH": "tanh RNN", "RNN_RELU": "ReLU RNN", "LSTM": "LSTM", "GRU": "GRU"}
COLORS = {"rnn": "#dbe9f6", "encoder": "#dbe9f6", "decoder": "#fde2c8"}


def _box(ax, x, y, text, color, w=0.9, h=0.5, size=9):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=color, ec="#333", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax, a, b, label=None, rad=0.0, style="-|>", ls="-", label_at=(0, 0), size=7):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, lw=1, color="#333", ls=ls,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=14, shrinkB=14))
    if label:
        ax.text((a[0] + b[0]) / 2 + label_at[0], (a[1] + b[1]) / 2 + label_at[1], label, fontsize=size,
                ha="center", va="center", color="#a33", bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})


def _wrap(label):
    return label.replace(" ", "\n") if len(label) > 6 else label


def network_figure(plt, mode, steps, shape, sizes, bidirectional=False):
    """The folded cell and its unrolled copies over ``steps`` (a list of sections.Step).

    ``bidirectional``: a second cell reads the input right to left (dashed arrows under the forward ones).
    """
    w_in, w_rec = MATRICES[mode]
    n = len(steps)
    fig, ax = plt.subplots(figsize=(2.6 + 1.35 * n, 3.3))
    ax.set_xlim(-0.2, 3.0 + 1.35 * n)
    ax.set_ylim(-0.35, 3.25)
    ax.axis("off")
    state = "h, c" if mode == "LSTM" else "h"
    # folded
    _box(ax, 0.8, 1.5, state, COLORS["rnn"])
    _box(ax, 0.8, 0.2, "x", "#eee")
    _box(ax, 0.8, 2.8, "y", "#eee")
    _arrow(ax, (0.8, 0.2), (0.8, 1.5), _wrap(w_in), label_at=(0.0, 0.0))
    _arrow(ax, (0.8, 1.5), (0.8, 2.8), "Why", label_at=(0.0, 0.0))
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch((1.25, 1.6), (1.25, 1.4), connectionstyle="arc3,rad=-2.2", arrowstyle="-|>",
                                 mutation_scale=10, lw=1, color="#333"))
    ax.text(1.75, 1.5, _wrap(w_rec), fontsize=7, color="#a33", va="center", ha="left")
    both = " ×2 (both directions)" if bidirectional else ""
    ax.text(0.8, -0.3, f"folded: {CELL_NAMES[mode]}{both}", ha="center", fontsize=8, style="italic")
    ax.text(2.45, 1.5, "=", fontsize=18, ha="center", va="center")
    # unrolled
    x0 = 3.2
    prev = None
    for t, step in enumerate(steps):
        x = x0 + 1.35 * t
        color = COLORS.get(step.part, COLORS["rnn"])
        _box(ax, x, 1.5, f"{state}{_sub(t + 1)}", color)
        if step.input is not None:
            _box(ax, x, 0.2, step.input, "#eee", size=8)
            _arrow(ax, (x, 0.2), (x, 1.5), _short(w_in) if t == 0 else None, label_at=(0.3, 0))
        if step.output is not None:
            _box(ax, x, 2.8, step.output, "#eee", size=8)
            _arrow(ax, (x, 1.5), (x, 2.8), "Why" if t == n - 1 or step.part == "decoder" and t == _first(steps, "decoder")
                   else None, label_at=(0.28, 0))
        if prev is not None:
            handoff = steps[t - 1].part == "encoder" and step.part == "decoder"
            _arrow(ax, (prev, 1.5), (x, 1.5), "state" if handoff else (_short(w_rec) if t == 1 else None),
                   label_at=(0, 0.22))
            if shape == "one-to-many" and steps[t - 1].output is not None and step.part != "encoder":
                _arrow(ax, (prev, 2.8), (x, 0.2), ls=":", style="-|>")
            if bidirectional:
                _arrow(ax, (x, 1.5), (prev, 1.5), "reverse" if t == 1 else None, rad=-0.45, ls="--",
                       label_at=(0, -0.4))
        prev = x
    ax.text(x0 + 1.35 * (n - 1) / 2, -0.3, f"unrolled over the first {n} steps of a held-out input  ·  {sizes}",
            ha="center", fontsize=8, style="italic")
    fig.tight_layout()
    return fig


def _short(label):
    """'W_ii W_if W_ig W_io' -> 'W_i[ifgo]' (one arrow of the unrolled drawing); 'Wxh' stays."""
    names = label.split()
    return label if len(names) == 1 else names[0][:3] + "[" + "".join(n[3:] for n in names) + "]"


def _first(steps, part):
    return next((i for i, s in enumerate(steps) if s.part == part), -1)


def _sub(t):
    return str(t).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def parameter_rows(model):
    """(module, parameter, shape, count) for every parameter, and the total."""
    rows = []
    for name, arr in model.params.items():
        module, _, pname = name.partition(".")
        rows.append((module, pname, "×".join(str(s) for s in arr.shape), int(np.prod(arr.shape))))
    return rows, sum(r[3] for r in rows)
