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
  with the row stride of the array it lives in (see ``_blas.gemm``);
- each product multiplies by a C-contiguous weight matrix without transposing it (the
  layer's W_hh or a C-contiguous copy of W_hh^T): OpenBLAS runs a B-row product with a
  transposed operand up to 3x slower at small B, and 3-15% slower at the benchmark shapes.
"""
import numpy as np
from numba import njit

from ._blas import gemm
from ._numba_kernels import (gru_bwd, gru_fwd, lstm_bwd, lstm_bwd_fm, lstm_fwd, lstm_fwd_fm,  # noqa: F401
                             rnn_bwd, rnn_fwd)

LOOPS = True


# ---------------------------------------------------------------- LSTM, feature-major (B >= 16)
@njit(cache=True, nogil=True)
def lstm_fwd_fm_loop(W_hh, G, rev, gh, cs, hT, masks):
    """All T steps: gh (4H, B) = W_hh h_{t-1}^T, then ``lstm_fwd_fm`` on G's step (G (4H, T, B), memory
    order); cells cs and states hT (T+1, H, B), one (H, B) block per step."""
    T = hT.shape[0] - 1
    H, B = hT.shape[1], hT.shape[2]
    for t in range(T):
        gemm(False, False, 4 * H, B, H, W_hh, H, hT[t], B, 0.0, gh, B)
        lstm_fwd_fm(G, T - 1 - t if rev else t, gh, cs[t], hT[t], masks[t], cs[t + 1], hT[t + 1])


@njit(cache=True, nogil=True)
def lstm_bwd_fm_loop(W_hhT, dhg, carry, dyT, dc, G, rev, cs, masks, t0, t1):
    """BPTT steps t1-1 down to t0 (dyT[t - t0] (H, B) = dy_t^T): ``lstm_bwd_fm`` turns G's step (4H, B) into
    its gate gradients da, then dhg (H, B) = W_hh^T da (W_hhT (H, 4H))."""
    T = cs.shape[0] - 1
    H, B = dhg.shape
    ld = T * B
    for t in range(t1 - 1, t0 - 1, -1):
        s = T - 1 - t if rev else t
        lstm_bwd_fm(dhg, carry, dyT[t - t0], dc, G, s, cs[t + 1], cs[t], masks[t])
        gemm(False, False, H, B, 4 * H, W_hhT, 4 * H, G[0, s], ld, 0.0, dhg, B)


# ---------------------------------------------------------------- per-step products, batch-major
@njit(inline="always")
def step_product(a, M, flip, tmp, out):
    """out (B, N) = a (B, K) @ W for the matrix W that ``_ops.StepProduct`` holds as M: W itself
    (K, N), or, flipped, W^T (N, K), multiplied as out^T = M a^T into tmp (N, B) and copied back."""
    B = a.shape[0]
    if flip:
        N, K = M.shape
        gemm(False, True, N, B, K, M, K, a, K, 0.0, tmp, B)
        for b in range(B):
            for n in range(N):
                out[b, n] = tmp[n, b]
    else:
        K, N = M.shape
        gemm(False, False, B, N, K, a, K, M, N, 0.0, out, N)


def product_form(hh, dtype):
    """(M, flip, tmp) of a ``_ops.StepProduct`` for ``step_product`` (tmp is (0, 0) when not flipped)."""
    if hh.flip:
        return np.ascontiguousarray(hh.left, dtype=dtype), True, hh.tmp
    return np.ascontiguousarray(hh.right, dtype=dtype), False, np.empty((0, 0), dtype=dtype)


# ---------------------------------------------------------------- LSTM, batch-major (B < 16)
@njit(cache=True, nogil=True)
def lstm_fwd_loop(M, flip, tmp, G, rev, gh, cs, hs, masks):
    """All T steps: gh (B, 4H) = h_{t-1} W_hh^T, then ``lstm_fwd`` on G's step (T, B, 4H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, flip, tmp, gh)
        lstm_fwd(G[T - 1 - t if rev else t], gh, cs[t], hs[t], masks[t], cs[t + 1], hs[t + 1])


@njit(cache=True, nogil=True)
def lstm_bwd_loop(M, flip, tmp, dhg, carry, dyc, dc, G, rev, cs, masks, dA, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``lstm_bwd`` writes dA[t - t0] (B, 4H), then dhg = it W_hh."""
    T = cs.shape[0] - 1
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        lstm_bwd(dhg, carry, dyc[k], dc, G[T - 1 - t if rev else t], cs[t + 1], cs[t], masks[t], dA[k])
        step_product(dA[k], M, flip, tmp, dhg)


# ---------------------------------------------------------------- RNN and GRU (batch-major)
@njit(cache=True, nogil=True)
def rnn_fwd_loop(M, flip, tmp, A, rev, gh, hs, masks, relu):
    """All T steps: gh = h_{t-1} W_hh^T, then ``rnn_fwd`` on A's step (T, B, H, memory order; may be hs[1:])."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, flip, tmp, gh)
        rnn_fwd(A[T - 1 - t if rev else t], gh, hs[t], masks[t], hs[t + 1], relu)


@njit(cache=True, nogil=True)
def rnn_bwd_loop(M, flip, tmp, dhg, carry, dyc, hs, masks, dA, t0, t1, relu):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``rnn_bwd`` writes dA[t - t0], then dhg = it W_hh."""
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        rnn_bwd(dhg, carry, dyc[k], hs[t + 1], masks[t], dA[k], relu)
        step_product(dA[k], M, flip, tmp, dhg)


@njit(cache=True, nogil=True)
def gru_fwd_loop(M, flip, tmp, b_hh, Gi, rev, gh, ghn, hs, masks):
    """All T steps: gh = h_{t-1} W_hh^T, then ``gru_fwd`` on Gi's step (T, B, 3H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, flip, tmp, gh)
        gru_fwd(Gi[T - 1 - t if rev else t], gh, b_hh, hs[t], masks[t], ghn[t], hs[t + 1])


@njit(cache=True, nogil=True)
def gru_bwd_loop(M, flip, tmp, dhg, carry, dyc, Gi, rev, ghn, hs, masks, dGi, dGh, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``gru_bwd`` writes dGi, dGh [t - t0], then dhg = dGh W_hh."""
    T = hs.shape[0] - 1
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        gru_bwd(dhg, carry, dyc[k], Gi[T - 1 - t if rev else t], ghn[t], hs[t], masks[t], dGi[k], dGh[k])
        step_product(dGh[k], M, flip, tmp, dhg)


def masks_2d(mask, T, dtype):
    """(T, B, 1) mask or None -> the loops' (T, B) C-contiguous masks, or (T, 0) for "no mask"."""
    if mask is None:
        return np.empty((T, 0), dtype=dtype)
    return np.ascontiguousarray(mask[:, :, 0], dtype=dtype)


def weight(W, dtype):
    """W as the loops' products need it: C-contiguous, of the activations' dtype (a copy only if not)."""
    return np.ascontiguousarray(W, dtype=dtype)
