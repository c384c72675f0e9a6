"""The vanilla (Elman) RNN cell over a sequence, with hand-written BPTT.

In the article's notation the three shared matrices are Wxh (input -> hidden),
Whh (hidden -> hidden) and Why (hidden -> output). Wxh and Whh live here as
PyTorch's ``weight_ih`` and ``weight_hh``; Why is the model's output ``Linear``.

    a_t = Wxh x_t + b_ih + Whh h_{t-1} + b_hh
    h_t = tanh(a_t)            (or relu(a_t))
    y_t = h_t                  (the model applies Why to it)

The same Wxh, Whh are applied at every step, scanning left to right. BPTT walks
the steps in reverse, carrying dh_next:

    dh_t   = dy_t + dh_next
    da_t   = dh_t * (1 - h_t^2)                   (tanh; relu: dh_t * [h_t > 0])
    dWxh  += da_t^T x_t      dWhh += da_t^T h_{t-1}     db += sum_b da_t
    dh_next = da_t Whh       dx_t = da_t Wxh

Both derivatives are functions of h_t, so the cache keeps only the states (T+1, B, H).
"""
import numpy as np

from ._backend import kernels, loops
from ._ops import InputGrad, StepProduct, WeightGrads, chunks, dy_chunks, input_projection, no_mask, step_mask

GATES = 1


def forward(x, h0, params, mask=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> y (T, B, H), h_T (B, H), cache."""
    K = kernels()
    Wxh, Whh = params["W_ih"], params["W_hh"]
    T, B, _ = x.shape
    H = Whh.shape[1]
    relu = nonlinearity == "relu"
    hs = np.empty((T + 1, B, H), dtype=x.dtype)    # hs[0] = h0, hs[t+1] = state after step t
    hs[0] = h0
    # Wxh x_t, written into hs[t+1] itself when x is in memory order (the kernel adds b and makes it h_t)
    A = input_projection(x, Wxh, None, out=hs[1:])
    bias = _sum_bias(params)
    bias = no_mask(x.dtype) if bias is None else bias.astype(x.dtype, copy=False)   # (H,), or empty: none
    hh = StepProduct(Whh, B, transpose=True)     # h @ Whh^T
    gh = np.empty((B, H), dtype=x.dtype)
    if loops(K):                                   # the whole loop in one compiled call
        rev = A.strides[0] < 0
        K.rnn_fwd_loop(*K.product_form(hh, x.dtype), A[::-1] if rev else A, rev, bias, gh, hs,
                       K.masks_2d(mask, T, x.dtype), relu)
    else:
        empty = no_mask(x.dtype)
        for t in range(T):
            hh(hs[t], gh)
            K.rnn_fwd(A[t], gh, bias, hs[t], step_mask(mask, t, empty), hs[t + 1], relu)
    y = hs[1:] if mask is None else hs[1:] * mask
    cache = (x, hs, mask, relu, params)
    return y, hs[T], cache


def backward(dy, dhT, cache, need_dx=True):
    """dy (T, B, H), dh_T (B, H) or None -> dx (T, B, I), dh0 (B, H), grads."""
    K = kernels()
    x, hs, mask, relu, params = cache
    Wxh, Whh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dtype = hs.dtype
    blocks, n_max = chunks(T, B)
    dA = np.empty((n_max, B, H), dtype=dtype)
    hh = StepProduct(Whh, B, transpose=False)    # da @ Whh
    dy_chunk = dy_chunks(dy, n_max, dtype)
    dhg = np.zeros((B, H), dtype=dtype) if dhT is None else np.array(dhT, dtype=dtype, order="C")
    carry = np.zeros((B, H), dtype=dtype)          # dh passed unchanged through padded steps
    grads = WeightGrads(Wxh, Whh, params.get("b_ih") is not None, dtype, acc=getattr(K, "gemm_acc", None))
    dx = InputGrad(T, B, x.shape[2], n_max, dtype) if need_dx else None   # None: the caller needs no dx
    empty = no_mask(dtype)
    if loops(K):
        form, masks = K.product_form(hh, dtype), K.masks_2d(mask, T, dtype)
    for t0, t1 in blocks:
        dyc = dy_chunk(t0, t1)
        if loops(K):                               # the chunk's steps in one compiled call
            K.rnn_bwd_loop(*form, dhg, carry, dyc, hs, masks, dA, t0, t1, relu)
        else:
            for t in reversed(range(t0, t1)):
                da = dA[t - t0]
                K.rnn_bwd(dhg, carry, dyc[t - t0], hs[t + 1], step_mask(mask, t, empty), da, relu)
                hh(da, dhg)
        grads.add(dA[: t1 - t0], x[t0:t1], dA[: t1 - t0], hs[t0:t1])
        if dx is not None:
            dx.add(dA[: t1 - t0], Wxh, t0)
    dhg += carry
    return None if dx is None else dx.result(), dhg, grads.dict()


def project(x, params):
    """Input projections Wxh x + b_ih + b_hh of inputs x (..., I) -> (..., H), as forward computes them.

    For token inputs, project the embedding table (or the identity, for one-hot inputs) once and
    feed rows of the result to ``step_projected``: a row lookup replaces a matrix product per step.
    """
    a = x @ params["W_ih"].T
    bias = _sum_bias(params)
    if bias is not None:
        a += bias
    return a


def step(x_t, h, params, nonlinearity="tanh"):
    """One inference step without a cache: x_t (B, I), h (B, H) -> h_t (B, H), h_t."""
    return step_projected(project(x_t, params), h, params, nonlinearity)


def step_projected(xp_t, h, params, nonlinearity="tanh"):
    """One inference step from the input projection xp_t (B, H) = ``project(x_t)``."""
    h_new = np.empty_like(h)
    empty = no_mask(h.dtype)                      # xp_t has the bias already; no mask
    kernels().rnn_fwd(xp_t, h @ params["W_hh"].T, empty, h, empty, h_new, nonlinearity == "relu")
    return h_new, h_new


def _sum_bias(params):
    b_ih, b_hh = params.get("b_ih"), params.get("b_hh")
    if b_ih is None:
        return None
    return b_ih + b_hh
