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
    da_t   = dh_t * (1 - h_t^2)                   (tanh; relu: dh_t * [a_t > 0])
    dWxh  += da_t^T x_t      dWhh += da_t^T h_{t-1}     db += sum_b da_t
    dh_next = da_t Whh       dx_t = da_t Wxh
"""
import numpy as np

from ._ops import input_projection, weight_grads

GATES = 1


def forward(x, h0, params, mask=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> y (T, B, H), h_T (B, H), cache."""
    Wxh, Whh = params["W_ih"], params["W_hh"]
    T, B, _ = x.shape
    H = Whh.shape[1]
    bias = _sum_bias(params)
    A = input_projection(x, Wxh, bias)             # (T, B, H) pre-activations, filled step by step
    hs = np.empty((T + 1, B, H), dtype=x.dtype)    # hs[0] = h0, hs[t+1] = state after step t
    hs[0] = h0
    y = np.empty((T, B, H), dtype=x.dtype) if mask is not None else None
    act = np.tanh if nonlinearity == "tanh" else _relu
    for t in range(T):
        a = A[t]
        a += hs[t] @ Whh.T
        h = act(a, out=hs[t + 1])
        if mask is not None:
            np.multiply(h, mask[t], out=y[t])
            # padded step: keep the previous state
            hs[t + 1] = y[t] + (1.0 - mask[t]) * hs[t]
    if mask is None:
        y = hs[1:]
    cache = (x, hs, A, mask, nonlinearity, params)
    return y, hs[T], cache


def backward(dy, dhT, cache):
    """dy (T, B, H), dh_T (B, H) or None -> dx (T, B, I), dh0 (B, H), grads."""
    x, hs, A, mask, nonlinearity, params = cache
    Wxh, Whh = params["W_ih"], params["W_hh"]
    T, B, H = dy.shape
    dA = np.empty_like(A)                          # (T, B, H)
    dh = np.zeros((B, H), dtype=dy.dtype) if dhT is None else np.array(dhT, dtype=dy.dtype)
    for t in reversed(range(T)):
        dh_t = dh + dy[t]
        if mask is not None:
            carry = (1.0 - mask[t]) * dh           # a padded step passes dh straight through
            dh_t *= mask[t]
        da = dA[t]
        if nonlinearity == "tanh":
            h = hs[t + 1] if mask is None else np.tanh(A[t])
            np.multiply(h, h, out=da)
            np.subtract(1.0, da, out=da)
            da *= dh_t
        else:
            np.multiply(dh_t, A[t] > 0, out=da)
        dh = da @ Whh
        if mask is not None:
            dh += carry
    grads = {
        "W_ih": weight_grads(dA, x, Wxh.shape),
        "W_hh": weight_grads(dA, hs[:-1], Whh.shape),
    }
    if params.get("b_ih") is not None:
        db = dA.sum(axis=(0, 1))
        grads["b_ih"] = db
        grads["b_hh"] = db.copy()
    dx = np.matmul(dA.reshape(T * B, H), Wxh).reshape(T, B, Wxh.shape[1])
    return dx, dh, grads


def _relu(a, out):
    return np.maximum(a, 0.0, out=out)


def _sum_bias(params):
    b_ih, b_hh = params.get("b_ih"), params.get("b_hh")
    if b_ih is None:
        return None
    return b_ih + b_hh
