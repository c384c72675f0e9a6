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
  transposed operand up to 3x slower at small B, and 3-15% slower at the benchmark shapes;
- ``own``: the per-step products run on rnnlab's own product (``_gemm``, the ``"numba_gemm"``
  backend) instead of NumPy's BLAS; the products outside these loops are the caller's.
"""
import numpy as np
from numba import njit

from ._blas import gemm
from ._gemm import gemm_nn
from ._numba_kernels import (gru_bwd, gru_fwd, lstm_bwd, lstm_bwd_fm, lstm_fwd, lstm_fwd_fm,  # noqa: F401
                             rnn_bwd, rnn_fwd)

LOOPS = True


def own_steps(W, dtype):
    """Whether the per-step products by W run on rnnlab's own product (``_numba_gemm`` overrides this)."""
    return False


def own_layer():
    """Whether the LSTM's feature-major layer runs every product on rnnlab's own (``_numba_gemm`` overrides this)."""
    return False


@njit(inline="always")
def matmul(own, M, N, K, a, lda, b, ldb, c, ldc):
    """c (M, N) = a (M, K) @ b (K, N), by rnnlab's own product or by NumPy's BLAS."""
    if own:
        gemm_nn(M, N, K, a, lda, 1, b, ldb, 0.0, c, ldc)
    else:
        gemm(False, False, M, N, K, a, lda, b, ldb, 0.0, c, ldc)


# ---------------------------------------------------------------- LSTM, feature-major (B >= 16)
@njit(cache=True, nogil=True)
def lstm_fwd_fm_loop(W_hh, own, G, rev, gh, cs, hT, masks):
    """All T steps: gh (4H, B) = W_hh h_{t-1}^T, then ``lstm_fwd_fm`` on G's step (G (4H, T, B), memory
    order); cells cs and states hT (T+1, H, B), one (H, B) block per step."""
    T = hT.shape[0] - 1
    H, B = hT.shape[1], hT.shape[2]
    for t in range(T):
        matmul(own, 4 * H, B, H, W_hh, H, hT[t], B, gh, B)
        lstm_fwd_fm(G, T - 1 - t if rev else t, gh, cs[t], hT[t], masks[t], cs[t + 1], hT[t + 1])


@njit(cache=True, nogil=True)
def lstm_bwd_fm_loop(W_hhT, own, dhg, carry, dyT, dc, G, rev, cs, masks, t0, t1):
    """BPTT steps t1-1 down to t0 (dyT[t - t0] (H, B) = dy_t^T): ``lstm_bwd_fm`` turns G's step (4H, B) into
    its gate gradients da, then dhg (H, B) = W_hh^T da (W_hhT (H, 4H)). Our own product reads da from a
    contiguous copy: in G its rows are T*B apart, a stride that maps them onto a few sets of the L1 cache
    (at (16, 200, 96, 384): 163 us a step read in place, against 132 for OpenBLAS, which packs its operands)."""
    T = cs.shape[0] - 1
    H, B = dhg.shape
    ld = T * B
    da = np.empty((4 * H, B) if own else (0, B), dtype=dhg.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        s = T - 1 - t if rev else t
        lstm_bwd_fm(dhg, carry, dyT[t - t0], dc, G, s, cs[t + 1], cs[t], masks[t])
        if own:
            for j in range(4 * H):
                for b in range(B):
                    da[j, b] = G[j, s, b]
            gemm_nn(H, B, 4 * H, W_hhT, 4 * H, 1, da, B, 0.0, dhg, B)
        else:
            gemm(False, False, H, B, 4 * H, W_hhT, 4 * H, G[0, s], ld, 0.0, dhg, B)


# ---------------------------------------------------------------- per-step products, batch-major
@njit(inline="always")
def step_product(a, M, form, tmp, out):
    """out (B, N) = a (B, K) @ W for the matrix W that ``_ops.StepProduct`` holds as M: W itself (K, N)
    (form 0: NumPy's BLAS, 2: rnnlab's own product), or, flipped (form 1), W^T (N, K), multiplied as
    out^T = M a^T into tmp (N, B) and copied back."""
    B = a.shape[0]
    if form == 1:
        N, K = M.shape
        gemm(False, True, N, B, K, M, K, a, K, 0.0, tmp, B)
        for b in range(B):
            for n in range(N):
                out[b, n] = tmp[n, b]
    else:
        K, N = M.shape
        matmul(form == 2, B, N, K, a, K, M, N, out, N)


def product_form(hh, dtype, own=False):
    """(M, form, tmp) of a ``_ops.StepProduct`` for ``step_product`` (tmp is (0, 0) when not flipped). Our
    own product needs no flipped form: it multiplies any number of rows by W (K, N) at the same rate."""
    if own:
        M = hh.left.T if hh.flip else hh.right
        return np.ascontiguousarray(M, dtype=dtype), 2, np.empty((0, 0), dtype=dtype)
    if hh.flip:
        return np.ascontiguousarray(hh.left, dtype=dtype), 1, hh.tmp
    return np.ascontiguousarray(hh.right, dtype=dtype), 0, np.empty((0, 0), dtype=dtype)


# ---------------------------------------------------------------- LSTM, batch-major (B < 16)
@njit(cache=True, nogil=True)
def lstm_fwd_loop(M, form, tmp, G, rev, gh, cs, hs, masks):
    """All T steps: gh (B, 4H) = h_{t-1} W_hh^T, then ``lstm_fwd`` on G's step (T, B, 4H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, form, tmp, gh)
        lstm_fwd(G[T - 1 - t if rev else t], gh, cs[t], hs[t], masks[t], cs[t + 1], hs[t + 1])


@njit(cache=True, nogil=True)
def lstm_bwd_loop(M, form, tmp, dhg, carry, dyc, dc, G, rev, cs, masks, dA, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``lstm_bwd`` writes dA[t - t0] (B, 4H), then dhg = it W_hh."""
    T = cs.shape[0] - 1
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        lstm_bwd(dhg, carry, dyc[k], dc, G[T - 1 - t if rev else t], cs[t + 1], cs[t], masks[t], dA[k])
        step_product(dA[k], M, form, tmp, dhg)


# ---------------------------------------------------------------- RNN and GRU (batch-major)
@njit(cache=True, nogil=True)
def rnn_fwd_loop(M, form, tmp, A, rev, gh, hs, masks, relu):
    """All T steps: gh = h_{t-1} W_hh^T, then ``rnn_fwd`` on A's step (T, B, H, memory order; may be hs[1:])."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, form, tmp, gh)
        rnn_fwd(A[T - 1 - t if rev else t], gh, hs[t], masks[t], hs[t + 1], relu)


@njit(cache=True, nogil=True)
def rnn_bwd_loop(M, form, tmp, dhg, carry, dyc, hs, masks, dA, t0, t1, relu):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``rnn_bwd`` writes dA[t - t0], then dhg = it W_hh."""
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        rnn_bwd(dhg, carry, dyc[k], hs[t + 1], masks[t], dA[k], relu)
        step_product(dA[k], M, form, tmp, dhg)


@njit(cache=True, nogil=True)
def gru_fwd_loop(M, form, tmp, b_hh, Gi, rev, gh, ghn, hs, masks):
    """All T steps: gh = h_{t-1} W_hh^T, then ``gru_fwd`` on Gi's step (T, B, 3H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, form, tmp, gh)
        gru_fwd(Gi[T - 1 - t if rev else t], gh, b_hh, hs[t], masks[t], ghn[t], hs[t + 1])


@njit(cache=True, nogil=True)
def gru_bwd_loop(M, form, tmp, dhg, carry, dyc, Gi, rev, ghn, hs, masks, dGi, dGh, t0, t1):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``gru_bwd`` writes dGi, dGh [t - t0], then dhg = dGh W_hh."""
    T = hs.shape[0] - 1
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        gru_bwd(dhg, carry, dyc[k], Gi[T - 1 - t if rev else t], ghn[t], hs[t], masks[t], dGi[k], dGh[k])
        step_product(dGh[k], M, form, tmp, dhg)


def masks_2d(mask, T, dtype):
    """(T, B, 1) mask or None -> the loops' (T, B) C-contiguous masks, or (T, 0) for "no mask"."""
    if mask is None:
        return np.empty((T, 0), dtype=dtype)
    return np.ascontiguousarray(mask[:, :, 0], dtype=dtype)


def weight(W, dtype):
    """W as the loops' products need it: C-contiguous, of the activations' dtype (a copy only if not)."""
    return np.ascontiguousarray(W, dtype=dtype)
