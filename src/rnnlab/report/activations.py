"""Hidden units over real held-out input, and the units that track simple features of it.

Each unit's activation h_t[j] (the top recurrent layer's output, both directions) is
correlated (Pearson r) over every held-out step with simple features of the input read off
the tokens themselves: inside quotes, position in the line, bracket depth, indentation,
position in the sentence, and so on. For each feature the unit with the largest |r| is
shown first, with each token coloured by that unit's value, as in Karpathy, Johnson and
Fei-Fei, "Visualizing and Understanding Recurrent Networks" (2015).
"""
import numpy as np

from .sections import esc

SENTENCE_END = {".", "!", "?", "。", "！", "？"}
OPEN, CLOSE = set("([{"), set(")]}")
QUOTES = {'"', "“", "”", "«", "»"}


def text_features(tokens):
    """{feature name: array (n,)} for one sequence of token strings (characters or words)."""
    n = len(tokens)
    f = {name: np.zeros(n) for name in ("inside quotes", "position in line", "bracket depth", "indentation",
                                         "position in sentence", "position in sequence")}
    quote = depth = line_pos = indent = sent_pos = 0
    at_line_start = True
    for t, tok in enumerate(tokens):
        if tok == "\n":
            line_pos, indent, at_line_start = 0, 0, True
        else:
            if at_line_start and tok.strip() == "":
                indent += len(tok)
            elif tok.strip():
                at_line_start = False
            line_pos += 1
        if tok in QUOTES:
            quote = 1 - quote
        depth += tok in OPEN
        f["inside quotes"][t] = quote
        f["bracket depth"][t] = depth
        f["position in line"][t] = line_pos
        f["indentation"][t] = indent
        f["position in sentence"][t] = sent_pos
        f["position in sequence"][t] = t
        depth = max(0, depth - (tok in CLOSE))
        sent_pos = 0 if tok in SENTENCE_END or tok == "\n" and t > 0 and tokens[t - 1] == "\n" else sent_pos + 1
    f["space or newline"] = np.array([tok.strip() == "" for tok in tokens], dtype=float)
    f["capital letter"] = np.array([tok[:1].isupper() for tok in tokens], dtype=float)
    f["punctuation"] = np.array([bool(tok) and not tok[0].isalnum() and tok.strip() != "" for tok in tokens], dtype=float)
    return f


def correlations(H, features):
    """Pearson r (F, U) of every feature (F arrays of length N) with every unit of H (N, U); NaN-free."""
    H = H - H.mean(axis=0)
    hs = np.sqrt((H * H).sum(axis=0))
    out = []
    for v in features:
        v = v - v.mean()
        vs = np.sqrt(v @ v)
        out.append((v @ H) / np.where(hs * vs > 0, hs * vs, np.inf))
    return np.array(out)


def top_units(H, feats, k=6):
    """[(unit, feature name, r)] the unit most correlated with each feature, strongest first, distinct units."""
    names = [name for name, v in feats.items() if np.ptp(v) > 0]
    if not names or H.shape[0] < 3:
        return []
    r = correlations(H, [feats[n] for n in names])
    picks = []
    for i in np.argsort(-np.abs(r).max(axis=1)):
        order = np.argsort(-np.abs(r[i]))
        unit = next((int(u) for u in order if int(u) not in {p[0] for p in picks}), None)
        if unit is not None and abs(r[i, unit]) > 0:
            picks.append((unit, names[i], float(r[i, unit])))
    return picks[:k]


def stack_steps(y, lengths, tokens, feature_fn, extra=None):
    """(H (N, U), {feature: (N,)}) over the valid steps of every sequence."""
    rows, feats = [], {}
    for b, toks in enumerate(tokens):
        n = len(toks) if lengths is None else min(int(lengths[b]), len(toks))
        rows.append(y[b, :n])
        f = feature_fn(toks[:n])
        if extra:
            f.update({k: np.asarray(v[b][:n], dtype=float) for k, v in extra.items()})
        for k, v in f.items():
            feats.setdefault(k, []).append(v)
    return np.concatenate(rows), {k: np.concatenate(v) for k, v in feats.items()}


def _color(v):
    """A blue (negative) to red (positive) background for v in [-1, 1]."""
    v = float(np.clip(v, -1, 1))
    if v >= 0:
        return f"rgba(214,39,40,{v:.2f})"
    return f"rgba(31,119,180,{-v:.2f})"


def coloured_tokens(tokens, values, scale, joiner=""):
    out = []
    for tok, v in zip(tokens, values):
        shown = "↵<br>" if tok == "\n" else esc(tok)
        out.append(f'<span style="background:{_color(v / scale)}" title="{v:.3f}">{shown}</span>')
    return joiner.join(out)


def units_html(y, lengths, tokens, picks, joiner, max_chars=900):
    """Each picked unit with its correlation and the held-out tokens coloured by its value."""
    parts = []
    for unit, feature, r in picks:
        values = np.concatenate([y[b, :len(toks), unit] for b, toks in enumerate(tokens)])
        scale = max(float(np.abs(values).max()), 1e-6)
        lines, used = [], 0
        for b, toks in enumerate(tokens):
            if used > max_chars:
                break
            n = len(toks) if lengths is None else min(int(lengths[b]), len(toks))
            keep = n
            total = 0
            for i in range(n):
                total += len(toks[i]) + len(joiner)
                if used + total > max_chars:
                    keep = i
                    break
            used += total
            spans = coloured_tokens(toks[:keep], y[b, :keep, unit], scale, joiner)
            lines.append(f'<div class="tokens{" words" if joiner else ""}">{spans}</div>')
        parts.append(f'<h3>unit {unit}: {esc(feature)} (r = {r:+.2f})</h3>{"".join(lines)}')
    return "".join(parts)


def units_figure(plt, y, tokens, picks, max_steps=120):
    """The picked units' activations over the first held-out sequence (a heat map, one row per unit)."""
    toks = tokens[0][:max_steps]
    M = np.array([y[0, :len(toks), u] for u, _, _ in picks])
    fig, ax = plt.subplots(figsize=(min(12, max(5, 1.5 + 0.09 * len(toks))), 0.45 * len(picks) + 1.2))
    im = ax.imshow(M, aspect="auto", cmap="RdBu_r", vmin=-np.abs(M).max(), vmax=np.abs(M).max())
    ax.set_yticks(range(len(picks)), [f"unit {u}: {name} ({r:+.2f})" for u, name, r in picks], fontsize=7)
    step = max(1, len(toks) // 60)
    ax.set_xticks(range(0, len(toks), step), [repr(t)[1:-1][:4] for t in toks[::step]], fontsize=6)
    fig.colorbar(im, ax=ax, fraction=0.02)
    return fig
