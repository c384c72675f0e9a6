"""Gradient flow through time: how much of the loss's error signal reaches each earlier step.

For real held-out sequences, the model runs its own forward and backward (``probe.watch``);
the gradient its loss sends into the top recurrent layer at the *last* step of each
sequence (and into that layer's final state, as many-to-one models send it) is then carried
back through time by the engine's BPTT, and

    g_k = || dL / dh_{n-k} ||        k = 0 (the last step), 1, 2, ... n-1 steps back

is measured on the top layer's forward direction, for each sequence, and averaged over the
sequences that are at least k+1 steps long. For a vanilla RNN g_k shrinks roughly
geometrically with k (the vanishing gradient); the LSTM's cell path keeps more of it.

dL/dh_t of step t is what BPTT carries into h_t from everything after it. It is read off
as the initial-state gradient of a backward pass over the steps after t, started from the
true state h_t (c_t) of the forward pass: the recurrence after step t is all that the
top layer's h_t can reach when the loss is at the last step. The suffixes after every t
go through the engine together, as one right-padded batch with their lengths. A norm
that underflows to 0 (float32) is left out of the plot.
"""
import re

import numpy as np

from ..layers.recurrent import RNN

CHUNK_ROWS = 256        # suffixes x sequences per batched backward pass


def split_top(layer):
    """(lower layers or None, the top layer's forward direction as a one-layer layer), sharing weights."""
    L, D, H = layer.num_layers, layer.num_directions, layer.hidden_size
    kw = {"nonlinearity": layer.nonlinearity} if isinstance(layer, RNN) else {}
    cls = type(layer)

    def index(name):
        return int(re.search(r"_l(\d+)", name).group(1))

    lower = None
    if L > 1:
        lower = cls(layer.input_size, H, num_layers=L - 1, bidirectional=layer.bidirectional, bias=layer.bias,
                    dtype=layer.dtype, **kw)
        lower.params = {k: v for k, v in layer.params.items() if index(k) < L - 1}
    top = cls(layer.input_size if L == 1 else D * H, H, num_layers=1, bias=layer.bias, dtype=layer.dtype, **kw)
    top.params = {k.replace(f"_l{L - 1}", "_l0"): v for k, v in layer.params.items() if k.endswith(f"_l{L - 1}")}
    return lower, top


def _rows(state, rows, dtype):
    """Rows (layer*direction indices) of a stacked state, or None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(np.ascontiguousarray(s[rows], dtype=dtype) for s in state)
    return np.ascontiguousarray(state[rows], dtype=dtype)


def _batch(state, idx):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(np.ascontiguousarray(s[:, idx]) for s in state)
    return np.ascontiguousarray(state[:, idx])


def _h(state):
    return state[0] if isinstance(state, tuple) else state


def step_norms(layer, seen, lengths=None):
    """Per sequence, the array g[k] = ||dL/dh_{n-k}||, k = 0..n-1 (see the module docstring).

    ``lengths`` gives each sequence's last valid step when the layer ran over padding
    without being told (a decoder whose loss masks the padded targets instead).
    """
    if seen.x is None or seen.dy is None:
        raise ValueError("the recurrent layer was not run forward and backward")
    L, D, H = layer.num_layers, layer.num_directions, layer.hidden_size
    x = seen.x
    B, T, _ = x.shape
    if lengths is None:
        lengths = np.full(B, T) if seen.lengths is None else seen.lengths
    lengths = np.asarray(lengths)
    lower, top = split_top(layer)
    top_row = (L - 1) * D
    xin = x
    if lower is not None:
        xin = lower.forward(x, _rows(seen.state, slice(0, top_row), layer.dtype), lengths=seen.lengths)[0]
    s_init = _rows(seen.state, slice(top_row, top_row + 1), layer.dtype)
    ds_final = _rows(seen.dstate, slice(top_row, top_row + 1), layer.dtype)
    norms = [None] * B
    for n in np.unique(lengths):
        idx = np.flatnonzero(lengths == n)
        n = int(n)
        X = np.ascontiguousarray(xin[idx, :n])
        g = seen.dy[idx, n - 1, :H].astype(layer.dtype)                     # (b, H) error arriving at step n
        dS = _batch(ds_final, idx)
        states = [_batch(s_init, idx) if s_init is not None else top.zero_state(len(idx))]
        for t in range(n):                                                  # states[t] = state after t steps
            states.append(top.forward(X[:, t:t + 1], states[t])[1])
        out = np.empty((len(idx), n))
        last = g + (0 if dS is None else _h(dS)[0])
        out[:, 0] = np.linalg.norm(last, axis=1)
        ts = list(range(1, n))                                              # dL/dh_t, t = 1..n-1
        per = max(1, CHUNK_ROWS // len(idx))
        for c in range(0, len(ts), per):
            chunk = ts[c:c + per]
            dh = _suffix_backward(top, X, states, g, dS, chunk)
            for j, t in enumerate(chunk):
                out[:, n - t] = np.linalg.norm(dh[j * len(idx):(j + 1) * len(idx)], axis=1)
        for row, b in enumerate(idx):
            norms[b] = out[row]
    return norms


def _suffix_backward(top, X, states, g, dS, ts):
    """dL/dh_t (rows: t in ``ts``, then sequence) from one padded batch of the suffixes after each t.

    Suffix t holds steps t+1..n (right-padded, with its length), starts from the state after
    step t and gets the error ``g`` at its last step; its initial-state gradient is dL/dh_t.
    """
    b, n, _ = X.shape
    m = n - ts[0]
    rows = len(ts) * b
    Xs = np.zeros((rows, m, X.shape[2]), dtype=X.dtype)
    dy = np.zeros((rows, m, g.shape[1]), dtype=X.dtype)
    lengths = np.empty(rows, dtype=np.int64)
    for j, t in enumerate(ts):
        r = slice(j * b, (j + 1) * b)
        Xs[r, :n - t] = X[:, t:]
        dy[r, n - t - 1] = g
        lengths[r] = n - t

    def stack(parts):
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate([p[k] for p in parts], axis=1) for k in range(len(parts[0])))
        return np.concatenate(parts, axis=1)

    s0 = stack([states[t] for t in ts])
    dS_all = None if dS is None else stack([dS] * len(ts))
    _, _, cache = top.forward(Xs, s0, lengths=lengths)
    _, ds0, _ = top.backward(dy, cache, dS_all, need_dx=False)
    return _h(ds0)[0]


def average_norms(norms):
    """(steps back k, mean of g[k] over the sequences long enough, how many) from ``step_norms``."""
    n = max(len(g) for g in norms)
    total, count = np.zeros(n), np.zeros(n, dtype=np.int64)
    for g in norms:
        total[:len(g)] += g
        count[:len(g)] += 1
    return np.arange(n), total / np.maximum(count, 1), count


def flow_figure(curves, plt):
    """One log-scale plot of g_k / g_0 for each (label, steps, mean) in ``curves``."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for label, steps, mean, count in curves:
        keep = count >= max(1, count[0] // 4)                               # enough sequences still averaged
        rel = mean[keep] / mean[0] if mean[0] > 0 else mean[keep]
        ax.semilogy(steps[keep], np.where(rel > 0, rel, np.nan), label=label, lw=1.6)   # 0: underflowed
    ax.set_xlabel("steps back from the loss (k)")
    ax.set_ylabel("||dL/dh$_{n-k}$|| / ||dL/dh$_n$||")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
