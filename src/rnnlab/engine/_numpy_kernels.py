"""Per-step elementwise kernels in plain NumPy (the ``"numpy"`` backend).

The reference for ``_numba_kernels``: same names, signatures and equations, written
as in-place ufunc chains. mask: ``m`` is (B,) of 0/1, or an empty array for "no mask".
"""
import numpy as np


def sigmoid_(a):
    """In-place logistic sigmoid through tanh: sigma(a) = (1 + tanh(a/2)) / 2.

    Stable for large |a| (no exp overflow) and one transcendental per element.
    """
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def _keep_masked(m, new, old):
    """new = old on the rows where m == 0 (m is 0/1, so this is exact)."""
    if m.size:
        off = m == 0
        if off.any():
            new[off] = old[off]


# ---------------------------------------------------------------- RNN
def rnn_fwd(a, gh, bias, h_prev, m, h, relu):
    if bias.shape[0]:
        np.add(a, bias, out=h)
        h += gh
    else:
        np.add(a, gh, out=h)
    if relu:
        np.maximum(h, 0.0, out=h)
    else:
        np.tanh(h, out=h)
    _keep_masked(m, h, h_prev)


def rnn_bwd(dhg, carry, dy, h, m, da, relu):
    if m.size:
        dhg += carry
        off = (m == 0)[:, None]
        np.multiply(dhg, off, out=carry)
    np.add(dhg, dy, out=da)
    if relu:
        da *= h > 0
    else:
        da *= 1.0 - h * h
    if m.size:
        da *= m[:, None]


# ---------------------------------------------------------------- LSTM
def lstm_fwd(g, gh, c_prev, h_prev, m, c, h):
    H = h.shape[1]
    g += gh
    sigmoid_(g[:, : 2 * H])
    np.tanh(g[:, 2 * H : 3 * H], out=g[:, 2 * H : 3 * H])
    sigmoid_(g[:, 3 * H :])
    i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
    np.multiply(f, c_prev, out=c)
    c += i * gg
    np.tanh(c, out=h)
    h *= o
    _keep_masked(m, c, c_prev)
    _keep_masked(m, h, h_prev)


def lstm_bwd(dhg, carry, dy, dc, g, c, c_prev, m, da):
    H = dc.shape[1]
    if m.size:
        dhg += carry
        off = (m == 0)[:, None]
        np.multiply(dhg, off, out=carry)
        dc_carry = dc * off
    i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
    di, df, dg, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
    tc = np.tanh(c)
    dh = dhg + dy
    _lstm_gate_grads(dh, tc, (i, f, gg, o), (di, df, dg, do), c_prev, dc)
    if m.size:
        da *= m[:, None]
        dc *= m[:, None]
        dc += dc_carry


def _lstm_gate_grads(dh, tc, gates, out, c_prev, dc):
    """(di, df, dg, do) = gate gradients from dh and tanh(c); dc (in/out) becomes dc_next."""
    i, f, gg, o = gates
    di, df, dg, do = out
    np.multiply(dh, tc, out=do)
    dct = dh * o
    dct *= 1.0 - tc * tc
    dct += dc
    np.multiply(dct, gg, out=di)
    np.multiply(dct, c_prev, out=df)
    np.multiply(dct, i, out=dg)
    np.multiply(dct, f, out=dc)
    di *= i * (1.0 - i)
    df *= f * (1.0 - f)
    dg *= 1.0 - gg * gg
    do *= o * (1.0 - o)


# ---------------------------------------------------------------- LSTM, feature-major
def lstm_fwd_fm(g, gh, c_prev, h_prev, m, c, h):
    H = h.shape[0]
    g += gh
    sigmoid_(g[: 2 * H])
    np.tanh(g[2 * H : 3 * H], out=g[2 * H : 3 * H])
    sigmoid_(g[3 * H :])
    np.multiply(g[H : 2 * H], c_prev, out=c)
    c += g[:H] * g[2 * H : 3 * H]
    np.tanh(c, out=h)
    h *= g[3 * H :]
    if m.size:
        off = m == 0
        if off.any():
            c[:, off] = c_prev[:, off]
            h[:, off] = h_prev[:, off]


def lstm_bwd_fm(dhg, carry, dy, dc, g, c, c_prev, m):
    H = dhg.shape[0]
    if m.size:
        on = m[None, :]
        dhg += carry
        np.multiply(dhg, 1.0 - on, out=carry)
        dhg += dy
        dhg *= on
        keep = dc * (1.0 - on)
    else:
        dhg += dy
    gates = tuple(g[k * H : (k + 1) * H].copy() for k in range(4))
    _lstm_gate_grads(dhg, np.tanh(c), gates, tuple(g[k * H : (k + 1) * H] for k in range(4)), c_prev, dc)
    if m.size:
        g *= on
        dc *= on
        dc += keep


# ---------------------------------------------------------------- GRU
def gru_fwd(g, gh, b_ih, b_hh, h_prev, m, ghn, h):
    H = h.shape[1]
    if b_ih.shape[0]:
        g += b_ih
    gh += b_hh
    rz = g[:, : 2 * H]
    rz += gh[:, : 2 * H]
    sigmoid_(rz)
    r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
    ghn[...] = gh[:, 2 * H :]
    n += r * ghn
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n
    _keep_masked(m, h, h_prev)


def gru_bwd(dhg, carry, dy, g, ghn, h_prev, m, dgi, dgh):
    H = dhg.shape[1]
    r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
    dr, dz, dn = dgi[:, :H], dgi[:, H : 2 * H], dgi[:, 2 * H :]
    dhg += carry
    dh = dhg + dy
    np.multiply(dh, 1.0 - z, out=dn)
    dn *= 1.0 - n * n
    np.subtract(h_prev, n, out=dz)
    dz *= dh
    dz *= z * (1.0 - z)
    np.multiply(dn, ghn, out=dr)
    dr *= r * (1.0 - r)
    dgh[:, : 2 * H] = dgi[:, : 2 * H]
    np.multiply(dn, r, out=dgh[:, 2 * H :])
    np.multiply(dh, z, out=carry)
    if m.size:
        on = m[:, None]
        dgi *= on
        dgh *= on
        carry *= on
        carry += dhg * (1.0 - on)
