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
"""
import numpy as np

from ._ops import input_projection, sigmoid_, weight_grads

GATES = 4


def forward(x, state0, params, mask=None):
    """x (T, B, I), (h0, c0) each (B, H) -> y (T, B, H), (h_T, c_T), cache."""
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    h0, c0 = state0
    T, B, _ = x.shape
    H = W_hh.shape[1]
    bias = None if params.get("b_ih") is None else params["b_ih"] + params["b_hh"]
    G = input_projection(x, W_ih, bias)            # (T, B, 4H): pre-activations, then gate values
    hs = np.empty((T + 1, B, H), dtype=x.dtype)    # hs[t+1] = h after step t
    cs = np.empty((T + 1, B, H), dtype=x.dtype)    # cs[t+1] = c after step t
    tcs = np.empty((T, B, H), dtype=x.dtype)       # tanh(c_t) of the step's candidate cell
    hs[0], cs[0] = h0, c0
    y = np.empty((T, B, H), dtype=x.dtype) if mask is not None else None
    tmp = np.empty((B, H), dtype=x.dtype)
    for t in range(T):
        g = G[t]
        g += hs[t] @ W_hh.T
        sigmoid_(g[:, : 2 * H])
        np.tanh(g[:, 2 * H : 3 * H], out=g[:, 2 * H : 3 * H])
        sigmoid_(g[:, 3 * H :])
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        c = cs[t + 1]
        np.multiply(f, cs[t], out=c)
        np.multiply(i, gg, out=tmp)
        c += tmp
        np.tanh(c, out=tcs[t])
        h = hs[t + 1]
        np.multiply(o, tcs[t], out=h)
        if mask is not None:
            m = mask[t]
            np.multiply(h, m, out=y[t])
            keep = 1.0 - m
            h *= m
            h += keep * hs[t]
            c *= m
            c += keep * cs[t]
    if mask is None:
        y = hs[1:]
    cache = (x, hs, cs, tcs, G, mask, params)
    return y, (hs[T], cs[T]), cache


def backward(dy, dstateT, cache):
    """dy (T, B, H), (dh_T, dc_T) or None -> dx (T, B, I), (dh0, dc0), grads."""
    x, hs, cs, tcs, G, mask, params = cache
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dA = np.empty_like(G)                          # (T, B, 4H)
    if dstateT is None:
        dh = np.zeros((B, H), dtype=dy.dtype)
        dc = np.zeros((B, H), dtype=dy.dtype)
    else:
        dh = np.array(dstateT[0], dtype=dy.dtype)
        dc = np.array(dstateT[1], dtype=dy.dtype)
    for t in reversed(range(T)):
        g = G[t]
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        tc = tcs[t]
        dh_t = dh + dy[t]
        if mask is not None:
            m = mask[t]
            keep = 1.0 - m
            carry_h, carry_c = keep * dh, keep * dc
            dh_t *= m
            dc = dc * m
        da = dA[t]
        di, df, dg, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        # dc += dh * o * (1 - tanh(c)^2)
        np.multiply(dh_t, tc, out=do)
        dct = dh_t * o
        dct *= 1.0 - tc * tc
        dct += dc
        np.multiply(dct, gg, out=di)
        np.multiply(dct, i, out=dg)
        np.multiply(dct, cs[t], out=df)
        dc = dct * f
        # through the gate nonlinearities
        di *= i * (1.0 - i)
        df *= f * (1.0 - f)
        dg *= 1.0 - gg * gg
        do *= o * (1.0 - o)
        dh = da @ W_hh
        if mask is not None:
            dh += carry_h
            dc += carry_c
    grads = {
        "W_ih": weight_grads(dA, x, W_ih.shape),
        "W_hh": weight_grads(dA, hs[:-1], W_hh.shape),
    }
    if params.get("b_ih") is not None:
        db = dA.sum(axis=(0, 1))
        grads["b_ih"] = db
        grads["b_hh"] = db.copy()
    dx = np.matmul(dA.reshape(T * B, 4 * H), W_ih).reshape(T, B, W_ih.shape[1])
    return dx, (dh, dc), grads
