"""The LSTM cell over a sequence, with hand-written BPTT (PyTorch gate order i, f, g, o).

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

BPTT carries (dh_next, dc_next) backwards:

    dh = dy_t + dh_next
    do = dh * tanh(c_t)                    dc = dc_next + dh * o * (1 - tanh(c_t)^2)
    di = dc * g    dg = dc * i    df = dc * c_{t-1}    dc_next = dc * f
    da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]
    dh_next = da W_hh    dx_t = da W_ih    dW_ih += da^T x_t    dW_hh += da^T h_{t-1}

The cache keeps what BPTT needs and nothing else: the gate values (T, B, 4H),
h and c (T+1, B, H); tanh(c_t) is recomputed in backward.

From a batch of ``FM["min_batch"]`` up, forward and backward run feature-major: the gates
G (T, 4H, B), cells and states (T+1, H, B) hold each step as a contiguous (features, batch)
block, so the per-step products are W_ih x_t^T + W_hh h^T (4H, B) and W_hh^T da^T (H, B), the
shapes OpenBLAS runs 1.2-1.9x faster than h W_hh^T at these sizes. BPTT writes each step's gate
gradients over its gate values (the cache serves one backward) and copies them into one chunk's
dA (4H, n*B), n*B about CHUNK_ROWS: the chunk's weight gradients and dx are one product each.
Gates kept as one (4H, T*B) matrix instead (no copy) put a step's rows T*B floats apart, a page
a row at (B, T, H) = (16, 200, 384): a step's gate kernel ran 1.7-3.6x slower reading them there.
h leaves the loop as (T+1, B, H): it is the output.
"""
import numpy as np

from ._backend import kernels, loops
from ._ops import (InputGrad, StepProduct, WeightGrads, bptt_chunk, chunk_steps, chunks, dy_chunks, input_projection,
                   no_mask, product, step_mask)

GATES = 4
FM = {"min_batch": 16}     # the batch size from which forward/backward run feature-major


def forward(x, state0, params, mask=None):
    """x (T, B, I), (h0, c0) each (B, H) -> y (T, B, H), (h_T, c_T), cache."""
    K = kernels()
    if x.shape[1] >= FM["min_batch"]:
        return _forward_fm(x, state0, params, mask)
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    h0, c0 = state0
    T, B, _ = x.shape
    H = W_hh.shape[1]
    bias = None if params.get("b_ih") is None else params["b_ih"] + params["b_hh"]
    G = input_projection(x, W_ih, bias)            # (T, B, 4H): pre-activations, then gate values
    hh = StepProduct(W_hh, B, transpose=True)     # h @ W_hh^T
    hs = np.empty((T + 1, B, H), dtype=x.dtype)    # hs[t+1] = h after step t
    cs = np.empty((T + 1, B, H), dtype=x.dtype)    # cs[t+1] = c after step t
    hs[0], cs[0] = h0, c0
    gh = np.empty((B, GATES * H), dtype=x.dtype)   # W_hh h_{t-1}
    if loops(K):                                   # the whole loop in one compiled call
        rev = G.strides[0] < 0
        K.lstm_fwd_loop(*K.product_form(hh, x.dtype), G[::-1] if rev else G, rev, gh, cs, hs, K.masks_2d(mask, T, x.dtype))
    else:
        empty = no_mask(x.dtype)
        for t in range(T):
            hh(hs[t], gh)
            K.lstm_fwd(G[t], gh, cs[t], hs[t], step_mask(mask, t, empty), cs[t + 1], hs[t + 1])
    y = hs[1:] if mask is None else hs[1:] * mask
    cache = (x, hs, cs, G, mask, params)
    return y, (hs[T], cs[T]), cache


def backward(dy, dstateT, cache, need_dx=True):
    """dy (T, B, H), (dh_T, dc_T) or None -> dx (T, B, I), (dh0, dc0), grads."""
    if isinstance(cache[0], str):                   # ("fm", ...): the feature-major path's cache
        return _backward_fm(dy, dstateT, cache, need_dx)
    K = kernels()
    x, hs, cs, G, mask, params = cache
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dtype = hs.dtype
    blocks, n_max = chunks(T, B)
    hh = StepProduct(W_hh, B, transpose=False)    # da @ W_hh
    dA = np.empty((n_max, B, GATES * H), dtype=dtype)  # gate gradients of one chunk of steps
    dy_chunk = dy_chunks(dy, n_max, dtype)
    if dstateT is None:
        dhg = np.zeros((B, H), dtype=dtype)        # da_{t+1} W_hh, the dh arriving from step t+1
        dc = np.zeros((B, H), dtype=dtype)
    else:
        dhg = np.array(dstateT[0], dtype=dtype, order="C")
        dc = np.array(dstateT[1], dtype=dtype, order="C")
    carry = np.zeros((B, H), dtype=dtype)          # dh passed unchanged through padded steps
    grads = WeightGrads(W_ih, W_hh, params.get("b_ih") is not None, dtype, acc=getattr(K, "gemm_acc", None))
    dx = InputGrad(T, B, x.shape[2], n_max, dtype) if need_dx else None   # None: the caller needs no dx
    empty = no_mask(dtype)
    if loops(K):
        rev = G.strides[0] < 0
        form, Gm, masks = K.product_form(hh, dtype), (G[::-1] if rev else G), K.masks_2d(mask, T, dtype)
    for t0, t1 in blocks:
        dyc = dy_chunk(t0, t1)
        if loops(K):                               # the chunk's steps in one compiled call
            K.lstm_bwd_loop(*form, dhg, carry, dyc, dc, Gm, rev, cs, masks, dA, t0, t1)
        else:
            for t in reversed(range(t0, t1)):
                da = dA[t - t0]
                K.lstm_bwd(dhg, carry, dyc[t - t0], dc, G[t], cs[t + 1], cs[t], step_mask(mask, t, empty), da)
                hh(da, dhg)
        grads.add(dA[: t1 - t0], x[t0:t1], dA[: t1 - t0], hs[t0:t1])
        if dx is not None:
            dx.add(dA[: t1 - t0], W_ih, t0)
    dhg += carry
    return None if dx is None else dx.result(), (dhg, dc), grads.dict()


def _forward_fm(x, state0, params, mask):
    """Feature-major forward, steps in processing order (a reversed view of x is read in memory order):
    G (T, 4H, B), each step's gates one (4H, B) block (``_numba_loops``)."""
    K = kernels()
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, I = x.shape
    H = W_hh.shape[1]
    dtype = x.dtype
    rev = x.strides[0] < 0                         # a reversed view: step t is xm[T-1-t]
    xm = np.ascontiguousarray(x[::-1] if rev else x)    # (T, B, I) memory order (a copy only if strided)
    G = np.empty((T, GATES * H, B), dtype=dtype)   # W_ih x_t + W_hh h_{t-1}, then gate values
    hT = np.empty((T + 1, H, B), dtype=dtype)      # hT[t+1] = h_t^T
    cs = np.empty((T + 1, H, B), dtype=dtype)      # cs[t+1] = c_t^T
    hT[0], cs[0] = np.asarray(state0[0]).T, np.asarray(state0[1]).T
    bias = np.zeros((GATES * H, B), dtype=dtype)   # b_ih + b_hh, one column per batch row
    if params.get("b_ih") is not None:
        bias[...] = (params["b_ih"] + params["b_hh"])[:, None]
    if loops(K):                                   # the whole forward in one compiled call
        own_layer = K.own_layer()
        xT = np.ascontiguousarray(xm.transpose(0, 2, 1)) if own_layer else np.empty((0, 0, 0), dtype)
        K.lstm_fwd_fm_loop(K.weight(W_ih, dtype), bias, K.weight(W_hh, dtype), xm, rev, xT, G, cs, hT,
                           K.masks_2d(mask, T, dtype), K.own_steps(W_hh, dtype), own_layer)
    else:
        empty = no_mask(dtype)
        for t in range(T):
            np.matmul(W_ih, x[t].T, out=G[t])
            G[t] += W_hh @ hT[t]
            K.lstm_fwd_fm(G[t], bias, cs[t], hT[t], step_mask(mask, t, empty), cs[t + 1], hT[t + 1])
    hs = np.ascontiguousarray(hT.transpose(0, 2, 1))   # (T+1, B, H): the output, and BPTT's h rows
    y = hs[1:] if mask is None else hs[1:] * mask
    cache = ("fm", x, hs, cs, G, mask, params, [False])
    return y, (hs[T], np.ascontiguousarray(cs[T].T)), cache


def spend(spent):
    """Mark a feature-major cache used; refuse a second backward on it (its gate values became gradients)."""
    if spent[0]:
        raise RuntimeError("this LSTM forward's cache was already used by a backward pass (its gate values "
                           "are now gradients); run forward again")
    spent[0] = True


def fm_dstate(dstateT, H, B, dtype):
    """(dh_T, dc_T) each (B, H), or None -> the feature-major (H, B) blocks BPTT starts from (new arrays)."""
    if dstateT is None:
        return np.zeros((H, B), dtype=dtype), np.zeros((H, B), dtype=dtype)
    return tuple(np.array(np.asarray(d).T, dtype=dtype, order="C") for d in dstateT)


def _backward_fm(dy, dstateT, cache, need_dx):
    """BPTT a chunk of up to n steps at a time, latest first; each step's gate gradients overwrite its gate
    values (which nothing needs after that step) and are copied into the chunk's dA (4H, nk*B), which
    gives the chunk's weight gradients and dx one product each. dA lies in G's steps after the chunk,
    which BPTT is done with (so chunks start at 1 step and double up to n). The cache is used up: a
    second backward on it is refused."""
    K = kernels()
    _, x, hs, cs, G, mask, params, spent = cache
    spend(spent)
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    I = x.shape[2]
    dtype = hs.dtype
    n = chunk_steps(T, B)                         # up to n steps a chunk (columns of dA)
    dhg, dc = fm_dstate(dstateT, H, B, dtype)      # dhg: W_hh^T da_{t+1}, the dh arriving from step t+1
    carry = np.zeros((H, B), dtype=dtype)          # dh passed unchanged through padded steps
    W_hhT = np.ascontiguousarray(W_hh.T, dtype=dtype)   # (H, 4H)
    has_bias = params.get("b_ih") is not None
    dx = np.empty((T, B, I) if need_dx else (0, 0, 0), dtype)
    dyT = np.empty((n, H, B), dtype=dtype)         # one chunk of steps' dy, feature-major
    D0 = np.empty((GATES * H, B), dtype=dtype)     # the last step's gate gradients (later chunks: in G)
    if loops(K):                                   # the whole BPTT in one compiled call
        dW_ih, dW_hh = np.empty(W_ih.shape, dtype), np.empty(W_hh.shape, dtype)
        db = np.zeros(GATES * H if has_bias else 0, dtype)
        rev = x.strides[0] < 0
        xm = np.ascontiguousarray(x[::-1] if rev else x)   # memory order, as in forward
        xs = np.empty((n, B, I) if rev else (0, 0, 0), dtype)  # a chunk of a reversed x, in processing order
        K.lstm_bwd_fm_loop(K.weight(W_ih, dtype), W_hhT, xm, rev, xs, hs, G, D0, np.ones((n * B, 1), dtype), cs,
                           K.masks_2d(mask, T, dtype), np.asarray(dy, dtype=dtype), dyT, dhg, carry, dc, dW_ih,
                           dW_hh, db, dx, K.own_steps(W_hh, dtype), K.own_layer())
        grads = {"W_ih": dW_ih, "W_hh": dW_hh}
        if has_bias:
            grads["b_ih"], grads["b_hh"] = db, db.copy()
    else:
        empty = no_mask(dtype)
        weight_grads = WeightGrads(W_ih, W_hh, has_bias, dtype)
        t1 = T
        while t1 > 0:
            nk = bptt_chunk(T, t1, n)
            t0 = t1 - nk
            dA = D0 if t1 == T else G[t1:].reshape(-1)[: GATES * H * nk * B].reshape(GATES * H, nk * B)
            np.copyto(dyT[:nk], np.asarray(dy[t0:t1]).transpose(0, 2, 1))
            for t in reversed(range(t0, t1)):
                K.lstm_bwd_fm(dhg, carry, dyT[t - t0], dc, G[t], cs[t + 1], cs[t], step_mask(mask, t, empty))
                product(W_hhT, G[t], dhg)
                dA[:, (t - t0) * B : (t - t0 + 1) * B] = G[t]
            weight_grads.add_fm(dA, x[t0:t1], dA, hs[t0:t1])
            if need_dx:
                dx[t0:t1] = (dA.T @ W_ih).reshape(nk, B, I)
            t1 = t0
        grads = weight_grads.dict()
    dhg += carry
    return (dx if need_dx else None), (np.ascontiguousarray(dhg.T), np.ascontiguousarray(dc.T)), grads


def project(x, params):
    """Input projections W_ih x + b_ih + b_hh of inputs x (..., I) -> (..., 4H), as forward computes them."""
    g = x @ params["W_ih"].T
    if params.get("b_ih") is not None:
        g += params["b_ih"] + params["b_hh"]
    return g


def step(x_t, state, params):
    """One inference step without a cache: x_t (B, I), (h, c) -> h_t (B, H), (h_t, c_t)."""
    return step_projected(project(x_t, params), state, params)


def step_projected(xp_t, state, params):
    """One inference step from the input projection xp_t (B, 4H) = ``project(x_t)`` (not modified)."""
    h, c = state
    g = np.array(xp_t, dtype=h.dtype)             # the kernel turns it into gate values in place
    gh = h @ params["W_hh"].T
    h_new, c_new = np.empty_like(h), np.empty_like(c)
    kernels().lstm_fwd(g, gh, c, h, no_mask(h.dtype), c_new, h_new)
    return h_new, (h_new, c_new)
