"""Gradient flow through time: how much of the loss's error signal reaches each earlier step.

For real held-out sequences, the model runs its own forward and backward (``probe.watch``);
the gradient its loss sends into the top recurrent layer at the *last* step of each
sequence (and into that layer's final state, as many-to-one models send it) is then carried
back through time by the engine's BPTT, and

    g_k = || dL / dh_{n-k} ||        k = 0 (the last step), 1, 2, ... n-1 steps back

is measured on the top layer's forward direction, for each sequence, and averaged over the
sequences that are at least k+1 steps long. For a vanilla RNN g_k shrinks roughly
geometrically with k (the vanishing gradient); the LSTM's cell path keeps more of it.

dL/dh_t of step t is what BPTT carries into h_t from everything after it: for the RNN and
LSTM it is read off one backward pass of the engine (``_through_input``), for the GRU from
backward passes over the steps after each t (``_through_suffixes``). A norm that underflows
to 0 (float32) is left out of the plot.
"""
import re

import numpy as np

from ..layers.recurrent import RNN

CHUNK_ROWS = 64         # suffixes x sequences per batched backward pass (GRU)


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
        s0 = _batch(s_init, idx) if s_init is not None else top.zero_state(len(idx))
        out = np.empty((len(idx), n))
        last = g + (0 if dS is None else _h(dS)[0])
        out[:, 0] = np.linalg.norm(last, axis=1)
        if n > 1:
            dh = (_through_input(top, X, s0, g, dS) if top.mode != "GRU"
                  else _through_suffixes(top, X, s0, g, dS))                # dh[:, t-1] = dL/dh_t, t = 1..n-1
            out[:, 1:] = np.linalg.norm(dh, axis=2)[:, ::-1]
        for row, b in enumerate(idx):
            norms[b] = out[row]
    return norms


def _through_input(top, X, s0, g, dS):
    """RNN and LSTM: dL/dh_t for t = 1..n-1, (b, n-1, H), from one backward pass.

    h_{t-1} reaches step t only through W_hh h_{t-1} (the LSTM's c_{t-1} is a separate path), so
    the error BPTT carries into h_{t-1} is W_hh^T dgates_t. The same layer with a second,
    all-zero input z that enters through a copy of W_hh (input weights [W_ih | W_hh]) computes
    the same forward, and its input gradient dz_t is exactly W_hh^T dgates_t.
    """
    b, n, I = X.shape
    H = top.hidden_size
    twin = type(top)(I + H, H, num_layers=1, bias=top.bias, dtype=top.dtype,
                     **({"nonlinearity": top.nonlinearity} if top.mode.startswith("RNN") else {}))
    twin.params = dict(top.params, weight_ih_l0=np.concatenate([top.params["weight_ih_l0"],
                                                                top.params["weight_hh_l0"]], axis=1))
    Xz = np.concatenate([X, np.zeros((b, n, H), dtype=X.dtype)], axis=2)
    _, _, cache = twin.forward(Xz, s0)
    dy = np.zeros((b, n, H), dtype=X.dtype)
    dy[:, -1] = g
    dx, _, _ = twin.backward(dy, cache, dS)
    return dx[:, 1:, I:]


def _through_suffixes(top, X, s0, g, dS):
    """Any cell (the GRU's h_{t-1} also enters through r * (W_hn h) and z * h): dL/dh_t, t = 1..n-1.

    dL/dh_t is the initial-state gradient of a backward pass over the steps after t, started from
    the true state after step t. The suffixes go through the engine together, ``CHUNK_ROWS`` rows
    at a time, right-padded with their lengths; suffix t gets the error ``g`` at its last step.
    """
    b, n, _ = X.shape
    states = [s0]
    for t in range(n):                                                      # states[t] = state after t steps
        states.append(top.forward(X[:, t:t + 1], states[t])[1])
    ts = list(range(1, n))
    out = np.empty((b, n - 1, top.hidden_size))
    per = max(1, CHUNK_ROWS // b)
    for c in range(0, len(ts), per):
        chunk = ts[c:c + per]
        m = n - chunk[0]
        rows = len(chunk) * b
        Xs = np.zeros((rows, m, X.shape[2]), dtype=X.dtype)
        dy = np.zeros((rows, m, g.shape[1]), dtype=X.dtype)
        lengths = np.empty(rows, dtype=np.int64)
        for j, t in enumerate(chunk):
            r = slice(j * b, (j + 1) * b)
            Xs[r, :n - t] = X[:, t:]
            dy[r, n - t - 1] = g
            lengths[r] = n - t
        _, _, cache = top.forward(Xs, np.concatenate([states[t] for t in chunk], axis=1), lengths=lengths)
        dS_all = None if dS is None else np.concatenate([dS] * len(chunk), axis=1)
        _, ds0, _ = top.backward(dy, cache, dS_all, need_dx=False)
        for j, t in enumerate(chunk):
            out[:, t - 1] = ds0[0, j * b:(j + 1) * b]
    return out


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
