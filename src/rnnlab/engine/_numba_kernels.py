"""Fused per-step elementwise kernels, compiled with numba (the ``"numba"`` backend).

Each kernel does in one pass over (B, H) what ``_numpy_kernels`` does with a
chain of ufuncs, with the same signature and the same equations (see the cell
modules). The matrix products stay in NumPy's BLAS; only the gate arithmetic
between two products is fused here.

Two numerical details keep this path close to the NumPy one:
- constants are float32 scalars, so float32 arrays are computed in float32
  (a float64 literal would promote every float32 expression to float64);
- kernels compile with fastmath (inputs are checked finite by the layers; values are clamped
  before the rational tanh) and NumPy's error model (no ZeroDivisionError branch around the
  tanh's division), which lets LLVM vectorise the per-element loops. Each loop runs over
  range(n) (a range with a start value is not vectorised), writes one or two arrays, and
  never reads and writes two parts of one array: LLVM gives up on loops whose arrays it
  cannot prove apart cheaply. Hence several short loops per row instead of one long one;
- float32 tanh is a rational approximation (the one Eigen uses, within a few
  ulp of the exact value) because numba's scalar ``math.tanh`` calls libm once
  per element and is ~50x slower than a loop that LLVM can vectorize. float64
  keeps ``math.tanh``: that precision is for checking, not for speed.

mask: ``m`` is (B,) of 0/1, or an empty array for "no mask".
"""
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

ZERO, HALF, ONE = np.float32(0.0), np.float32(0.5), np.float32(1.0)

# tanh(x) ~ x P(x^2) / Q(x^2) on [-7.9, 7.9], saturated outside (Eigen's float32 tanh)
_CLAMP, _TINY = np.float32(7.90531110763549805), np.float32(0.0004)
_A1, _A3, _A5 = np.float32(4.89352455891786e-03), np.float32(6.37261928875436e-04), np.float32(1.48572235717979e-05)
_A7, _A9 = np.float32(5.12229709037114e-08), np.float32(-8.60467152213735e-11)
_A11, _A13 = np.float32(2.00018790482477e-13), np.float32(-2.76076847742355e-16)
_B0, _B2 = np.float32(4.89352518554385e-03), np.float32(2.26843463243900e-03)
_B4, _B6 = np.float32(1.18534705686654e-04), np.float32(1.19825839466702e-06)


def tanh(x):
    return math.tanh(x)


def _tanh_f32(x):
    # compare-and-select clamp (not min/max) so that LLVM can vectorise the loops that call this
    c = x if x < _CLAMP else _CLAMP
    c = c if c > -_CLAMP else -_CLAMP
    x2 = c * c
    p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * c
    q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
    return x if abs(x) < _TINY else p / q


@overload(tanh, jit_options={"fastmath": True, "error_model": "numpy"})
def _tanh_overload(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return _tanh_f32
    return lambda x: math.tanh(x)


@njit(inline="always", fastmath=True, error_model="numpy")
def sigmoid(a):
    return (tanh(HALF * a) + ONE) * HALF


# ---------------------------------------------------------------- RNN
@njit(cache=True, fastmath=True, error_model="numpy")
def rnn_fwd(a, gh, bias, h_prev, m, h, relu):
    """h = act(a + bias + gh) (bias (H,), or empty: none), or h_prev where m == 0. a may be h itself."""
    B, H = h.shape
    for b in range(B):
        if m.shape[0] and m[b] == ZERO:
            h[b] = h_prev[b]
            continue
        if bias.shape[0]:                  # a may be h: the activation then runs on one array,
            for j in range(H):             # which vectorises where a read of a and write of h cannot
                h[b, j] = (a[b, j] + bias[j]) + gh[b, j]
        else:
            for j in range(H):
                h[b, j] = a[b, j] + gh[b, j]
        if relu:
            for j in range(H):
                h[b, j] = max(h[b, j], ZERO)
        else:
            for j in range(H):
                h[b, j] = tanh(h[b, j])


@njit(cache=True, fastmath=True, error_model="numpy")
def rnn_bwd(dhg, carry, dy, h, m, da, relu):
    """da = (dhg + carry + dy) * act'(h); where m == 0: da = 0, carry = dhg + carry."""
    B, H = h.shape
    for b in range(B):
        if m.shape[0]:
            if m[b] == ZERO:
                for j in range(H):
                    carry[b, j] += dhg[b, j]
                    da[b, j] = ZERO
                continue
            for j in range(H):
                dhg[b, j] += carry[b, j]
                carry[b, j] = ZERO
        if relu:
            for j in range(H):
                da[b, j] = (dhg[b, j] + dy[b, j]) if h[b, j] > ZERO else ZERO
        else:
            for j in range(H):
                hj = h[b, j]
                da[b, j] = (dhg[b, j] + dy[b, j]) * (ONE - hj * hj)


# ---------------------------------------------------------------- LSTM
@njit(cache=True, fastmath=True, error_model="numpy")
def lstm_fwd(g, gh, c_prev, h_prev, m, c, h):
    """g (B, 4H) pre-activations without W_hh h -> gate values [i, f, g, o]; c, h of the step."""
    B, H = h.shape
    for b in range(B):
        if m.shape[0] and m[b] == ZERO:
            c[b] = c_prev[b]
            h[b] = h_prev[b]
            continue
        # one simple loop per gate block, each over range(n) (a range with a start does not vectorise)
        for j in range(2 * H):
            g[b, j] = sigmoid(g[b, j] + gh[b, j])                  # i, f
        for j in range(H):
            g[b, 2 * H + j] = tanh(g[b, 2 * H + j] + gh[b, 2 * H + j])        # g
        for j in range(H):
            g[b, 3 * H + j] = sigmoid(g[b, 3 * H + j] + gh[b, 3 * H + j])     # o
        for j in range(H):
            c[b, j] = g[b, H + j] * c_prev[b, j] + g[b, j] * g[b, 2 * H + j]
        for j in range(H):
            h[b, j] = g[b, 3 * H + j] * tanh(c[b, j])


@njit(cache=True, fastmath=True, error_model="numpy")
def lstm_bwd(dhg, carry, dy, dc, g, c, c_prev, m, da):
    """One BPTT step: dhg (B, H) = da_{t+1} W_hh; dc (B, H) in/out; da (B, 4H) out."""
    B, H = dc.shape
    for b in range(B):
        if m.shape[0]:
            if m[b] == ZERO:
                for j in range(H):
                    carry[b, j] += dhg[b, j]
                for j in range(4 * H):
                    da[b, j] = ZERO
                continue
            for j in range(H):
                dhg[b, j] += carry[b, j]
                carry[b, j] = ZERO
        gb, db = g[b], da[b]
        # three short loops with few arrays each: one long loop touching every array does not vectorise
        for j in range(H):                                         # o gate; dc += dh o tanh'(c)
            tc = tanh(c[b, j])
            dh = dhg[b, j] + dy[b, j]
            o = gb[3 * H + j]
            db[3 * H + j] = dh * tc * (o * (ONE - o))
            dc[b, j] += dh * o * (ONE - tc * tc)
        for j in range(H):                                         # i and g gates
            dct, i, gg = dc[b, j], gb[j], gb[2 * H + j]
            db[j] = dct * gg * (i * (ONE - i))
            db[2 * H + j] = dct * i * (ONE - gg * gg)
        for j in range(H):                                         # f gate; dc_next = dc f
            dct, f = dc[b, j], gb[H + j]
            db[H + j] = dct * c_prev[b, j] * (f * (ONE - f))
            dc[b, j] = dct * f


# ---------------------------------------------------------------- LSTM, feature-major
# The batch-16-and-up path of engine.lstm: each step is a (features, batch) block, the layout of
# the product W_hh h^T that OpenBLAS runs fastest: a step's gates g (4H, B), cells and states (H, B),
# each one contiguous block. Each hidden unit's four gates are done
# in one pass over the batch (one vectorised loop per unit, 1-D row views in and out), so that a
# step reads and writes each value once.
@njit(inline="always", fastmath=True, error_model="numpy")
def _lstm_fwd_row(gi, gf, gg, go, hi, hf, hg, ho, c_prev, c, h):
    for b in range(h.shape[0]):
        i = sigmoid(gi[b] + hi[b])
        f = sigmoid(gf[b] + hf[b])
        g = tanh(gg[b] + hg[b])
        o = sigmoid(go[b] + ho[b])
        cc = f * c_prev[b] + i * g
        gi[b], gf[b], gg[b], go[b] = i, f, g, o
        c[b] = cc
        h[b] = o * tanh(cc)


@njit(cache=True, fastmath=True, error_model="numpy")
def lstm_fwd_fm(g, gh, c_prev, h_prev, m, c, h):
    """One step: g (4H, B) pre-activations -> gate values (in place), with gh (4H, B) added (the rest of the
    pre-activations: the bias, or W_hh h_{t-1}^T); c_prev, h_prev (H, B) -> c, h (H, B), c_t and h_t^T."""
    H = h.shape[0]
    for j in range(H):
        _lstm_fwd_row(g[j], g[H + j], g[2 * H + j], g[3 * H + j], gh[j], gh[H + j], gh[2 * H + j], gh[3 * H + j],
                      c_prev[j], c[j], h[j])
    if m.shape[0]:                                                 # padded: keep the previous state
        for j in range(H):
            for b in range(h.shape[1]):
                if m[b] == ZERO:
                    c[j, b] = c_prev[j, b]
                    h[j, b] = h_prev[j, b]


@njit(inline="always", fastmath=True, error_model="numpy")
def _lstm_bwd_row(dh, dy, dc, gi, gf, gg, go, c, c_prev):
    for b in range(dh.shape[0]):
        d = dh[b] + dy[b]
        tc = tanh(c[b])
        i, f, gv, o = gi[b], gf[b], gg[b], go[b]
        dct = dc[b] + d * o * (ONE - tc * tc)
        gi[b] = dct * gv * (i * (ONE - i))
        gf[b] = dct * c_prev[b] * (f * (ONE - f))
        gg[b] = dct * i * (ONE - gv * gv)
        go[b] = d * tc * (o * (ONE - o))
        dc[b] = dct * f


@njit(inline="always", fastmath=True, error_model="numpy")
def _lstm_bwd_row_masked(dh, carry, dy, dc, gi, gf, gg, go, c, c_prev, m):
    for b in range(dh.shape[0]):                                   # padded steps pass dh and dc through
        on = m[b]
        s = dh[b] + carry[b]
        carry[b] = s * (ONE - on)
        d = (s + dy[b]) * on
        tc = tanh(c[b])
        i, f, gv, o = gi[b], gf[b], gg[b], go[b]
        dct = dc[b] + d * o * (ONE - tc * tc)
        gi[b] = dct * gv * (i * (ONE - i)) * on
        gf[b] = dct * c_prev[b] * (f * (ONE - f)) * on
        gg[b] = dct * i * (ONE - gv * gv) * on
        go[b] = d * tc * (o * (ONE - o))
        dc[b] = dct * f * on + dc[b] * (ONE - on)


@njit(cache=True, fastmath=True, error_model="numpy")
def lstm_bwd_fm(dhg, carry, dy, dc, g, c, c_prev, m):
    """One BPTT step: dhg (H, B) = W_hh^T da_{t+1}; dy (H, B) = dy_t^T; dc (H, B) in/out; c, c_prev (H, B) =
    c_t, c_{t-1}; g (4H, B), the step's gate values, becomes its gate gradients da."""
    H = dhg.shape[0]
    if m.shape[0]:
        for j in range(H):
            _lstm_bwd_row_masked(dhg[j], carry[j], dy[j], dc[j], g[j], g[H + j], g[2 * H + j], g[3 * H + j], c[j],
                                 c_prev[j], m)
    else:
        for j in range(H):
            _lstm_bwd_row(dhg[j], dy[j], dc[j], g[j], g[H + j], g[2 * H + j], g[3 * H + j], c[j], c_prev[j])


# ---------------------------------------------------------------- GRU
@njit(cache=True, fastmath=True, error_model="numpy")
def gru_fwd(g, gh, b_ih, b_hh, h_prev, m, ghn, h):
    """g (B, 3H) = W_ih x (+ b_ih, added here unless b_ih is empty) -> [r, z, n]; gh (B, 3H) = W_hh h_prev;
    ghn = gh_n + b_hn."""
    B, H = h.shape
    for b in range(B):
        if m.shape[0] and m[b] == ZERO:
            h[b] = h_prev[b]
            continue
        gb, hb = g[b], gh[b]
        if b_ih.shape[0]:
            for j in range(3 * H):
                gb[j] += b_ih[j]
        for j in range(2 * H):                                     # r, z
            gb[j] = sigmoid(gb[j] + (hb[j] + b_hh[j]))
        for j in range(H):
            ghn[b, j] = hb[2 * H + j] + b_hh[2 * H + j]
        for j in range(H):                                         # r (W_hn h + b_hn), kept in h for a moment:
            h[b, j] = gb[j] * ghn[b, j]                            # reading and writing g in one loop
        for j in range(H):                                         # does not vectorise
            gb[2 * H + j] = tanh(gb[2 * H + j] + h[b, j])          # n
        for j in range(H):
            n = gb[2 * H + j]
            h[b, j] = (h_prev[b, j] - n) * gb[H + j] + n


@njit(cache=True, fastmath=True, error_model="numpy")
def gru_bwd(dhg, carry, dy, g, ghn, h_prev, m, dgi, dgh):
    """One BPTT step: dhg (B, H) = dgh_{t+1} W_hh; carry (B, H) in/out becomes dh * z."""
    B, H = dhg.shape
    for b in range(B):
        if m.shape[0] and m[b] == ZERO:
            for j in range(H):
                carry[b, j] += dhg[b, j]
            for j in range(3 * H):
                dgi[b, j] = ZERO
                dgh[b, j] = ZERO
            continue
        gb, di, dh_ = g[b], dgi[b], dgh[b]
        for j in range(H):                                         # dhg becomes dh (the caller overwrites it next)
            dhg[b, j] += carry[b, j] + dy[b, j]
        for j in range(H):                                         # z
            dh, z = dhg[b, j], gb[H + j]
            di[H + j] = (h_prev[b, j] - gb[2 * H + j]) * dh * (z * (ONE - z))
            carry[b, j] = dh * z
        for j in range(H):                                         # n
            z, n = gb[H + j], gb[2 * H + j]
            dh_[2 * H + j] = dhg[b, j] * (ONE - z) * (ONE - n * n)
        for j in range(H):                                         # r
            r = gb[j]
            di[j] = dh_[2 * H + j] * ghn[b, j] * (r * (ONE - r))
        for j in range(H):
            di[2 * H + j] = dh_[2 * H + j]
        for j in range(H):                                         # W_hn h is scaled by r
            dh_[2 * H + j] *= gb[j]
        for j in range(H):
            dh_[j] = di[j]
            dh_[H + j] = di[H + j]
