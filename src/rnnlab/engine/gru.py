"""The GRU cell over a sequence, with hand-written BPTT (PyTorch gate order r, z, n).

    [gi_r, gi_z, gi_n] = W_ih x_t + b_ih        [gh_r, gh_z, gh_n] = W_hh h_{t-1} + b_hh
    r = sigma(gi_r + gh_r)    z = sigma(gi_z + gh_z)
    n = tanh(gi_n + r * gh_n)
    h_t = (1 - z) * n + z * h_{t-1}

BPTT carries dh_next backwards:

    dh = dy_t + dh_next
    dn = dh (1 - z) (1 - n^2)      dz = dh (h_{t-1} - n) z (1 - z)
    dr = dn gh_n r (1 - r)
    dgi = [dr, dz, dn]             dgh = [dr, dz, dn * r]
    dh_next = dh z + dgh W_hh      dx_t = dgi W_ih

The cache keeps the gate values [r, z, n] (T, B, 3H), gh_n (T, B, H) and h (T+1, B, H).
"""
import numpy as np

from ._backend import kernels, loops
from ._ops import InputGrad, StepProduct, WeightGrads, chunks, dy_chunks, input_projection, no_mask, step_mask

GATES = 3


def forward(x, h0, params, mask=None):
    """x (T, B, I), h0 (B, H) -> y (T, B, H), h_T (B, H), cache."""
    K = kernels()
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    Gi = input_projection(x, W_ih, None)          # (T, B, 3H): W_ih x_t; the kernel adds b_ih, then gate values
    hh = StepProduct(W_hh, B, transpose=True)     # h @ W_hh^T
    b_hh = _hidden_bias(params, W_hh)
    b_ih = no_mask(x.dtype) if params.get("b_ih") is None else params["b_ih"]   # (3H,), or empty: no input bias
    ghn = np.empty((T, B, H), dtype=x.dtype)       # W_hn h_{t-1} + b_hn, needed by backward
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = h0
    gh = np.empty((B, GATES * H), dtype=x.dtype)
    if loops(K):                                   # the whole loop in one compiled call
        rev = Gi.strides[0] < 0
        K.gru_fwd_loop(*K.product_form(hh, x.dtype), K.weight(b_ih, x.dtype), K.weight(b_hh, x.dtype),
                       Gi[::-1] if rev else Gi, rev, gh, ghn, hs, K.masks_2d(mask, T, x.dtype))
    else:
        empty = no_mask(x.dtype)
        for t in range(T):
            hh(hs[t], gh)
            K.gru_fwd(Gi[t], gh, b_ih, b_hh, hs[t], step_mask(mask, t, empty), ghn[t], hs[t + 1])
    y = hs[1:] if mask is None else hs[1:] * mask
    cache = (x, hs, Gi, ghn, mask, params)
    return y, hs[T], cache


def backward(dy, dhT, cache, need_dx=True):
    """dy (T, B, H), dh_T (B, H) or None -> dx (T, B, I), dh0 (B, H), grads."""
    K = kernels()
    x, hs, Gi, ghn, mask, params = cache
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dtype = hs.dtype
    blocks, n_max = chunks(T, B)
    hh = StepProduct(W_hh, B, transpose=False)    # da @ W_hh
    dGi = np.empty((n_max, B, GATES * H), dtype=dtype)   # gradient of W_ih x + b_ih, one chunk
    dGh = np.empty((n_max, B, GATES * H), dtype=dtype)   # gradient of W_hh h + b_hh, one chunk
    dy_chunk = dy_chunks(dy, n_max, dtype)
    dhg = np.zeros((B, H), dtype=dtype) if dhT is None else np.array(dhT, dtype=dtype, order="C")
    carry = np.zeros((B, H), dtype=dtype)          # dh * z, the part of dh_next that skips W_hh
    grads = WeightGrads(W_ih, W_hh, params.get("b_ih") is not None, dtype, separate_bias=True,
                        acc=getattr(K, "gemm_acc", None))
    dx = InputGrad(T, B, x.shape[2], n_max, dtype) if need_dx else None   # None: the caller needs no dx
    empty = no_mask(dtype)
    if loops(K):
        rev = Gi.strides[0] < 0
        form, Gm, masks = K.product_form(hh, dtype), (Gi[::-1] if rev else Gi), K.masks_2d(mask, T, dtype)
    for t0, t1 in blocks:
        dyc = dy_chunk(t0, t1)
        if loops(K):                               # the chunk's steps in one compiled call
            K.gru_bwd_loop(*form, dhg, carry, dyc, Gm, rev, ghn, hs, masks, dGi, dGh, t0, t1)
        else:
            for t in reversed(range(t0, t1)):
                dgh = dGh[t - t0]
                K.gru_bwd(dhg, carry, dyc[t - t0], Gi[t], ghn[t], hs[t], step_mask(mask, t, empty),
                          dGi[t - t0], dgh)
                hh(dgh, dhg)
        grads.add(dGi[: t1 - t0], x[t0:t1], dGh[: t1 - t0], hs[t0:t1])
        if dx is not None:
            dx.add(dGi[: t1 - t0], W_ih, t0)
    dhg += carry
    return None if dx is None else dx.result(), dhg, grads.dict()


def project(x, params):
    """Input projections W_ih x + b_ih of inputs x (..., I) -> (..., 3H), as forward computes them."""
    g = x @ params["W_ih"].T
    if params.get("b_ih") is not None:
        g += params["b_ih"]
    return g


def step(x_t, h, params):
    """One inference step without a cache: x_t (B, I), h (B, H) -> h_t (B, H), h_t."""
    return step_projected(project(x_t, params), h, params)


def step_projected(xp_t, h, params):
    """One inference step from the input projection xp_t (B, 3H) = ``project(x_t)`` (not modified)."""
    W_hh = params["W_hh"]
    g = np.array(xp_t, dtype=h.dtype)             # the kernel turns it into gate values in place
    h_new = np.empty_like(h)
    ghn = np.empty_like(h)
    empty = no_mask(h.dtype)                      # xp_t has b_ih already; no mask
    kernels().gru_fwd(g, h @ W_hh.T, empty, _hidden_bias(params, W_hh), h, empty, ghn, h_new)
    return h_new, h_new


def _hidden_bias(params, W_hh):
    b = params.get("b_hh")
    return np.zeros(W_hh.shape[0], dtype=W_hh.dtype) if b is None else b
