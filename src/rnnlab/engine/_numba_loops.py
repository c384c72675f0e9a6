"""Whole time loops compiled with numba (the ``"numba_loops"`` backend).

The ``"numba"`` backend runs each time step as a few Python calls (the recurrent product
through NumPy, then a fused kernel). Here one compiled call runs a direction's forward over
all T steps, or a chunk of BPTT steps: each step calls NumPy's BLAS GEMM directly (``_blas``)
and then the same fused kernel as the ``"numba"`` backend, so the two backends compute the
same numbers in the same order. The weight gradients stay one GEMM per chunk, in NumPy.

Conventions shared by the loops:
- ``rev``: the direction runs on a reversed view of its input; step t then reads the input
  projection in memory order at position T-1-t (``_ops.input_projection`` / ``_fm``);
- ``masks`` (T, B): step t's 0/1 mask in processing order, or (T, 0) for "no mask";
- every product operand is passed as an array view that starts at its first element,
  with the row stride of the array it lives in (see ``_blas.gemm``).
"""
import numpy as np
from numba import njit

from ._blas import gemm
from ._ops import flipped
from ._numba_kernels import (gru_bwd, gru_fwd, lstm_bwd, lstm_bwd_fm, lstm_fwd, lstm_fwd_fm,  # noqa: F401
                             rnn_bwd, rnn_fwd)

LOOPS = True


# ---------------------------------------------------------------- LSTM, feature-major (B >= 16)
@njit(cache=True)
def lstm_fwd_fm_loop(W_hh, G, rev, gh, cs, hs, hT, masks):
    """All T steps: gh (4H, B) = W_hh h_{t-1}^T, then ``lstm_fwd_fm`` (gates G, cells cs, states hs)."""
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    for t in range(T):
        gemm(False, True, 4 * H, B, H, W_hh, H, hs[t], H, 0.0, gh, B)
        lstm_fwd_fm(G, T - 1 - t if rev else t, gh, cs, hs, hT, masks[t], t)


@njit(cache=True)
def lstm_bwd_fm_loop(W_hh, dhg, carry, dy, dc, G, rev, cs, masks, dA, t0, t1):
    """BPTT steps t1-1 down to t0: ``lstm_bwd_fm`` writes dA[:, t - t0] (4H, B), then dhg (H, B) = W_hh^T of it."""
    T = cs.shape[1] - 1
    H, B = dhg.shape
    ld = dA.shape[1] * B
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        lstm_bwd_fm(dhg, carry, dy, t, dc, G, T - 1 - t if rev else t, cs, masks[t], dA, k)
        gemm(True, False, H, B, 4 * H, W_hh, H, dA[0, k], ld, 0.0, dhg, B)


# ---------------------------------------------------------------- LSTM, batch-major (B < 16)
@njit(cache=True)
def lstm_fwd_loop(W_hh, G, rev, gh, cs, hs, masks):
    """All T steps: gh (B, 4H) = h_{t-1} W_hh^T, then ``lstm_fwd`` on G's step (T, B, 4H, memory order)."""
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    for t in range(T):
        gemm(False, True, B, 4 * H, H, hs[t], H, W_hh, H, 0.0, gh, 4 * H)
        lstm_fwd(G[T - 1 - t if rev else t], gh, cs[t], hs[t], masks[t], cs[t + 1], hs[t + 1])


@njit(cache=True)
def lstm_bwd_loop(W_hh, dhg, carry, dyc, dc, G, rev, cs, masks, dA, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``lstm_bwd`` writes dA[t - t0] (B, 4H), then dhg = it W_hh."""
    T = cs.shape[0] - 1
    B, H = dhg.shape
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        lstm_bwd(dhg, carry, dyc[k], dc, G[T - 1 - t if rev else t], cs[t + 1], cs[t], masks[t], dA[k])
        gemm(False, False, B, H, 4 * H, dA[k], 4 * H, W_hh, H, 0.0, dhg, H)


def masks_2d(mask, T, dtype):
    """(T, B, 1) mask or None -> the loops' (T, B) C-contiguous masks, or (T, 0) for "no mask"."""
    if mask is None:
        return np.empty((T, 0), dtype=dtype)
    return np.ascontiguousarray(mask[:, :, 0], dtype=dtype)


# ---------------------------------------------------------------- RNN and GRU (batch-major)
@njit(inline="always")
def step_product(a, W, transpose, flip, tmp, out):
    """out (B, N) = a (B, K) @ W.T (``transpose``; W (N, K)) or a @ W (W (K, N)), as ``_ops.StepProduct``:
    ``flip`` computes the transposed product into tmp (N, B) and copies it back."""
    B = a.shape[0]
    if transpose:
        N, K = W.shape
        if flip:
            gemm(False, True, N, B, K, W, K, a, K, 0.0, tmp, B)
        else:
            gemm(False, True, B, N, K, a, K, W, K, 0.0, out, N)
    else:
        K, N = W.shape
        if flip:
            gemm(True, True, N, B, K, W, N, a, K, 0.0, tmp, B)
        else:
            gemm(False, False, B, N, K, a, K, W, N, 0.0, out, N)
    if flip:
        for b in range(B):
            for n in range(N):
                out[b, n] = tmp[n, b]


@njit(cache=True)
def rnn_fwd_loop(W_hh, A, rev, flip, tmp, gh, hs, masks, relu):
    """All T steps: gh = h_{t-1} W_hh^T, then ``rnn_fwd`` on A's step (T, B, H, memory order; may be hs[1:])."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], W_hh, True, flip, tmp, gh)
        rnn_fwd(A[T - 1 - t if rev else t], gh, hs[t], masks[t], hs[t + 1], relu)


@njit(cache=True)
def rnn_bwd_loop(W_hh, dhg, carry, dyc, hs, masks, flip, tmp, dA, t0, t1, relu):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``rnn_bwd`` writes dA[t - t0], then dhg = it W_hh."""
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        rnn_bwd(dhg, carry, dyc[k], hs[t + 1], masks[t], dA[k], relu)
        step_product(dA[k], W_hh, False, flip, tmp, dhg)


@njit(cache=True)
def gru_fwd_loop(W_hh, b_hh, Gi, rev, flip, tmp, gh, ghn, hs, masks):
    """All T steps: gh = h_{t-1} W_hh^T, then ``gru_fwd`` on Gi's step (T, B, 3H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], W_hh, True, flip, tmp, gh)
        gru_fwd(Gi[T - 1 - t if rev else t], gh, b_hh, hs[t], masks[t], ghn[t], hs[t + 1])


@njit(cache=True)
def gru_bwd_loop(W_hh, dhg, carry, dyc, Gi, rev, ghn, hs, masks, flip, tmp, dGi, dGh, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``gru_bwd`` writes dGi, dGh [t - t0], then dhg = dGh W_hh."""
    T = hs.shape[0] - 1
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        gru_bwd(dhg, carry, dyc[k], Gi[T - 1 - t if rev else t], ghn[t], hs[t], masks[t], dGi[k], dGh[k])
        step_product(dGh[k], W_hh, False, flip, tmp, dhg)


def product_form(B, W):
    """(flip, tmp) for ``step_product`` with B rows and weight W: the form ``_ops.StepProduct`` picks,
    and its (N, B) scratch for either side of W (empty when not flipped)."""
    flip = flipped(B, W)
    return flip, np.empty((max(W.shape), B) if flip else (0, 0), dtype=W.dtype)


def weight(W, dtype):
    """W as the loops' products need it: C-contiguous, of the activations' dtype (a copy only if not)."""
    return np.ascontiguousarray(W, dtype=dtype)
