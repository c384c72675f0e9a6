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
"""
import numpy as np

from ._ops import input_projection, sigmoid_, weight_grads

GATES = 3


def forward(x, h0, params, mask=None):
    """x (T, B, I), h0 (B, H) -> y (T, B, H), h_T (B, H), cache."""
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b_ih, b_hh = params.get("b_ih"), params.get("b_hh")
    T, B, _ = x.shape
    H = W_hh.shape[1]
    Gi = input_projection(x, W_ih, b_ih)           # (T, B, 3H): becomes [r, z, n] gate values
    ghn = np.empty((T, B, H), dtype=x.dtype)       # W_hn h_{t-1} + b_hn, needed by backward
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = h0
    y = np.empty((T, B, H), dtype=x.dtype) if mask is not None else None
    for t in range(T):
        g = Gi[t]
        gh = hs[t] @ W_hh.T
        if b_hh is not None:
            gh += b_hh
        rz = g[:, : 2 * H]
        rz += gh[:, : 2 * H]
        sigmoid_(rz)
        r, z = g[:, :H], g[:, H : 2 * H]
        n = g[:, 2 * H :]
        ghn[t] = gh[:, 2 * H :]
        n += r * ghn[t]
        np.tanh(n, out=n)
        h = hs[t + 1]
        # h = n + z * (h_prev - n)
        np.subtract(hs[t], n, out=h)
        h *= z
        h += n
        if mask is not None:
            m = mask[t]
            np.multiply(h, m, out=y[t])
            h *= m
            h += (1.0 - m) * hs[t]
    if mask is None:
        y = hs[1:]
    cache = (x, hs, Gi, ghn, mask, params)
    return y, hs[T], cache


def backward(dy, dhT, cache):
    """dy (T, B, H), dh_T (B, H) or None -> dx (T, B, I), dh0 (B, H), grads."""
    x, hs, Gi, ghn, mask, params = cache
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dGi = np.empty_like(Gi)                        # (T, B, 3H) gradient of W_ih x + b_ih
    dGh = np.empty_like(Gi)                        # (T, B, 3H) gradient of W_hh h + b_hh
    dh = np.zeros((B, H), dtype=dy.dtype) if dhT is None else np.array(dhT, dtype=dy.dtype)
    for t in reversed(range(T)):
        g = Gi[t]
        r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        dh_t = dh + dy[t]
        if mask is not None:
            m = mask[t]
            carry = (1.0 - m) * dh
            dh_t *= m
        dgi, dgh = dGi[t], dGh[t]
        dr, dz, dn = dgi[:, :H], dgi[:, H : 2 * H], dgi[:, 2 * H :]
        np.multiply(dh_t, 1.0 - z, out=dn)
        dn *= 1.0 - n * n
        np.subtract(hs[t], n, out=dz)
        dz *= dh_t
        dz *= z * (1.0 - z)
        np.multiply(dn, ghn[t], out=dr)
        dr *= r * (1.0 - r)
        dgh[:, : 2 * H] = dgi[:, : 2 * H]
        np.multiply(dn, r, out=dgh[:, 2 * H :])
        dh = dh_t * z
        dh += dgh @ W_hh
        if mask is not None:
            dh += carry
    grads = {
        "W_ih": weight_grads(dGi, x, W_ih.shape),
        "W_hh": weight_grads(dGh, hs[:-1], W_hh.shape),
    }
    if params.get("b_ih") is not None:
        grads["b_ih"] = dGi.sum(axis=(0, 1))
        grads["b_hh"] = dGh.sum(axis=(0, 1))
    dx = np.matmul(dGi.reshape(T * B, 3 * H), W_ih).reshape(T, B, W_ih.shape[1])
    return dx, dh, grads
