"""The LSTM's feature-major path with every product rnnlab's own (``_gemm``): the ``"numba_gemm"``
backend on one thread, where NumPy's OpenBLAS has no AVX-512 kernels (``_numba_gemm.own_layer``).

One compiled call runs the forward (input projection, the time loop) and one the backward (BPTT,
the weight gradients, dx); no product goes to the BLAS. The layouts are those of ``lstm``'s
feature-major path, with the steps in processing order (a reversed direction's x and dy are
copied in that order) and x and h also kept row by row for the weight gradients:

    xT  (I, T, B)       inputs, feature-major: the projection's right operand
    xb  (T, B, I)       inputs, rows (t, b): dW_ih = dA @ xb
    G   (4H, T, B)      pre-activations, then gate values, then gate gradients dA
    hT, cs (T+1, H, B)  states and cells, one (H, B) block per step
    hb  (T+1, B, H)     states batch-major: the output, and dW_hh = dA @ hb[:T]
"""
import numpy as np
from numba import njit

from ._gemm import gemm_nn
from ._numba_loops import lstm_bwd_fm_loop, lstm_fwd_fm_loop
from .lstm import fm_dstate, spend


@njit(cache=True, nogil=True)
def _forward(W_ih, bias, W_hh, xT, G, gh, cs, hT, masks):
    H4, I, n = G.shape[0], xT.shape[0], (hT.shape[0] - 1) * hT.shape[2]
    g = G.reshape(H4, n)
    gemm_nn(H4, n, I, W_ih, I, 1, xT.reshape(I, n), n, 0.0, g, n)
    for j in range(bias.shape[0]):
        g[j] += bias[j]
    lstm_fwd_fm_loop(W_hh, True, G, False, gh, cs, hT, masks)


@njit(cache=True, nogil=True)
def _backward(W_ih, W_hhT, xb, G, cs, hb, masks, dyT, dhg, carry, dc, dW_ih, dW_hh, db, dx):
    T, B, I = xb.shape
    H4, H, n = G.shape[0], dhg.shape[0], xb.shape[0] * xb.shape[1]
    lstm_bwd_fm_loop(W_hhT, True, dhg, carry, dyT, dc, G, False, cs, masks, 0, T)
    dhg += carry
    dA = G.reshape(H4, n)
    gemm_nn(H4, I, n, dA, n, 1, xb.reshape(n, I), I, 0.0, dW_ih, I)
    gemm_nn(H4, H, n, dA, n, 1, hb[:T].reshape(n, H), H, 0.0, dW_hh, H)
    for j in range(db.shape[0]):
        db[j] = dA[j].sum()
    if dx.shape[0]:                                # dx (n, I) = dA^T W_ih: dA read transposed
        gemm_nn(n, I, H4, dA, 1, n, W_ih, I, 0.0, dx.reshape(n, I), I)


def _fm(a, dtype):
    """(T, B, F) -> (T, F, B) C-contiguous, of dtype."""
    return np.ascontiguousarray(np.asarray(a).transpose(0, 2, 1), dtype=dtype)


def forward(x, state0, params, mask):
    """``lstm.forward`` on this path."""
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    dtype = x.dtype
    T, B, I = x.shape
    H = W_hh.shape[1]
    bias = np.empty(0, dtype) if params.get("b_ih") is None else (params["b_ih"] + params["b_hh"]).astype(dtype)
    xb = np.ascontiguousarray(x)                   # processing order
    xT = np.ascontiguousarray(xb.transpose(2, 0, 1))
    G = np.empty((4 * H, T, B), dtype=dtype)
    hT = np.empty((T + 1, H, B), dtype=dtype)
    cs = np.empty((T + 1, H, B), dtype=dtype)
    hT[0], cs[0] = np.asarray(state0[0]).T, np.asarray(state0[1]).T
    masks = np.empty((T, 0), dtype) if mask is None else np.ascontiguousarray(mask[:, :, 0], dtype=dtype)
    _forward(np.ascontiguousarray(W_ih, dtype), bias, np.ascontiguousarray(W_hh, dtype), xT, G,
             np.empty((4 * H, B), dtype), cs, hT, masks)
    hb = np.ascontiguousarray(hT.transpose(0, 2, 1))  # (T+1, B, H)
    y = hb[1:] if mask is None else hb[1:] * mask
    cache = ("own", xb, G, cs, hb, masks, params, [False])
    return y, (hb[T], np.ascontiguousarray(cs[T].T)), cache


def backward(dy, dstateT, cache, need_dx):
    """``lstm.backward`` of a ``forward`` above (the cache serves one backward: G becomes dA)."""
    _, xb, G, cs, hb, masks, params, spent = cache
    spend(spent)
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, I = xb.shape
    H = W_hh.shape[1]
    dtype = xb.dtype
    dhg, dc = fm_dstate(dstateT, H, B, dtype)
    has_bias = params.get("b_ih") is not None
    dW_ih, dW_hh = np.empty(W_ih.shape, dtype), np.empty(W_hh.shape, dtype)
    db = np.empty(4 * H if has_bias else 0, dtype)
    dx = np.empty((T, B, I) if need_dx else (0, 0, 0), dtype)
    _backward(np.ascontiguousarray(W_ih, dtype), np.ascontiguousarray(W_hh.T, dtype), xb, G, cs, hb, masks,
              _fm(dy, dtype), dhg, np.zeros((H, B), dtype), dc, dW_ih, dW_hh, db, dx)
    grads = {"W_ih": dW_ih, "W_hh": dW_hh}
    if has_bias:
        grads["b_ih"], grads["b_hh"] = db, db.copy()
    return (dx if need_dx else None), (np.ascontiguousarray(dhg.T), np.ascontiguousarray(dc.T)), grads
