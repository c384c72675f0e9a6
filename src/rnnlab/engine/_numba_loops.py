"""Whole time loops compiled with numba (the ``"numba_loops"`` backend).

The ``"numba"`` backend runs each time step as a few Python calls (the recurrent product
through NumPy, then a fused kernel). Here one compiled call runs a direction's forward over
all T steps, or a chunk of BPTT steps: each step calls NumPy's BLAS GEMM directly (``_blas``)
and then the same fused kernel as the ``"numba"`` backend, so the two backends compute the
same numbers in the same order. The weight gradients stay one GEMM per chunk of steps, called from Python
(``gemm_acc`` adds each chunk's product into the sums), except on the LSTM's feature-major path, whose
backward call computes them too.

Conventions shared by the loops:
- ``rev``: the direction runs on a reversed view of its input; step t then reads the input
  projection in memory order at position T-1-t (``_ops.input_projection``); the LSTM's feature-major
  loops read x itself in memory order at T-1-t;
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

from . import _ops
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
    matmul_acc(own, M, N, K, a, lda, b, ldb, 0.0, c, ldc)


@njit(inline="always")
def matmul_acc(own, M, N, K, a, lda, b, ldb, beta, c, ldc):
    """c (M, N) = a (M, K) @ b (K, N) + beta c, beta 0 or 1."""
    if own:
        gemm_nn(M, N, K, a, lda, 1, b, ldb, beta, c, ldc)
    else:
        gemm(False, False, M, N, K, a, lda, b, ldb, beta, c, ldc)


# ---------------------------------------------------------------- LSTM, feature-major (B >= 16)
# G (T, 4H, B): each step's gates one contiguous (4H, B) block, so that a step's kernel streams through
# memory. BPTT copies a chunk of steps' gate gradients into one (4H, nk*B) matrix for the chunk's weight
# gradients and dx, kept in the part of G that BPTT is done with (``bptt_chunk``).
@njit(cache=True, nogil=True)
def lstm_fwd_fm_loop(W_ih, bias, W_hh, xm, rev, xT, G, cs, hT, masks, own, own_layer):
    """All T steps of x (xm (T, B, I), memory order: step t is xm[T-1-t] when ``rev``): G[t] (4H, B) = W_ih x_t^T
    + W_hh h_{t-1}^T (our own product reads x_t^T from xT (T, I, B), the same order), then ``lstm_fwd_fm`` adds
    bias (4H, B) and makes them gate values; cells cs and states hT (T+1, H, B), one (H, B) block per step."""
    T, B, I = xm.shape
    H4 = G.shape[1]
    H = H4 // 4
    for t in range(T):
        g = G[t]
        s = T - 1 - t if rev else t
        if own_layer:
            gemm_nn(H4, B, I, W_ih, I, 1, xT[s], B, 0.0, g, B)
        else:
            gemm(False, True, H4, B, I, W_ih, I, xm[s], I, 0.0, g, B)
        matmul_acc(own, H4, B, H, W_hh, H, hT[t], B, 1.0, g, B)
        lstm_fwd_fm(g, bias, cs[t], hT[t], masks[t], cs[t + 1], hT[t + 1])


bptt_chunk = njit(cache=True)(_ops.bptt_chunk)


@njit(cache=True, nogil=True)
def lstm_bwd_fm_loop(W_ih, W_hhT, xm, rev, xs, hb, G, D0, ones, cs, masks, dy, dyT, dhg, carry, dc, dW_ih, dW_hh,
                     db, dx, own, own_layer):
    """BPTT in chunks of up to n steps (dyT (n, H, B) scratch), latest first: per step ``lstm_bwd_fm`` turns
    G[t] (4H, B) into its gate gradients da, then dhg (H, B) = W_hh^T da (W_hhT (H, 4H)), and da is copied into
    the chunk's dA (4H, nk*B), which lies in G's steps after the chunk (D0 (4H, B) for the last step); per
    chunk, dW_ih += dA x, dW_hh += dA h_prev (hb (T+1, B, H) batch-major), db += dA ones (db (4H,) or empty)
    and, when dx has rows, dx (T, B, I) = dA^T W_ih. dy, dx processing order; x as in ``lstm_fwd_fm_loop`` (a
    chunk of a reversed x is copied into xs (n, B, I) in processing order)."""
    T, B, I = xm.shape
    H4, n = G.shape[1], dyT.shape[0]
    H = H4 // 4
    Gf = G.reshape(T * H4 * B)
    t1 = T
    while t1 > 0:
        nk = bptt_chunk(T, t1, n)
        t0 = t1 - nk
        dA = D0.reshape(H4 * B) if t1 == T else Gf[t1 * H4 * B:]
        ld = nk * B
        for k in range(nk):
            for b in range(B):
                for j in range(H):
                    dyT[k, j, b] = dy[t0 + k, b, j]
        for k in range(nk - 1, -1, -1):
            t = t0 + k
            g = G[t]
            lstm_bwd_fm(dhg, carry, dyT[k], dc, g, cs[t + 1], cs[t], masks[t])
            matmul(own, H, B, H4, W_hhT, H4, g, B, dhg, B)
            for j in range(H4):
                for b in range(B):
                    dA[j * ld + k * B + b] = g[j, b]
        beta = 0.0 if t1 == T else 1.0
        if rev:
            for k in range(nk):
                xs[k] = xm[T - 1 - t0 - k]
        matmul_acc(own_layer, H4, I, ld, dA, ld, xs[0] if rev else xm[t0], I, beta, dW_ih, I)
        matmul_acc(own_layer, H4, H, ld, dA, ld, hb[t0], H, beta, dW_hh, H)
        if db.shape[0]:
            matmul_acc(own_layer, H4, 1, ld, dA, ld, ones, 1, 1.0, db, 1)
        if dx.shape[0]:                            # dx rows (ld, I) = dA^T W_ih: dA read transposed
            if own_layer:
                gemm_nn(ld, I, H4, dA, 1, ld, W_ih, I, 0.0, dx[t0], I)
            else:
                gemm(True, False, ld, I, H4, dA, ld, W_ih, I, 0.0, dx[t0], I)
        t1 = t0


# ---------------------------------------------------------------- weight gradients, batch-major
@njit(cache=True, nogil=True)
def gemm_acc(trans_a, a, b, c):
    """c (M, N) += op(a) @ b (K, N): op(a) = a (M, K), or a^T for a (K, M) when ``trans_a``; C-contiguous arrays
    (``_ops.WeightGrads`` adds each BPTT chunk's products into the sums with it, with no temporary)."""
    M, N = c.shape
    gemm(trans_a, False, M, N, b.shape[0], a, a.shape[1], b, N, 1.0, c, N)


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
def rnn_fwd_loop(M, form, tmp, A, rev, bias, gh, hs, masks, relu):
    """All T steps: gh = h_{t-1} W_hh^T, then ``rnn_fwd`` on A's step (T, B, H, memory order; may be hs[1:]) and bias."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, form, tmp, gh)
        rnn_fwd(A[T - 1 - t if rev else t], gh, bias, hs[t], masks[t], hs[t + 1], relu)


@njit(cache=True, nogil=True)
def rnn_bwd_loop(M, form, tmp, dhg, carry, dyc, hs, masks, dA, t0, t1, relu):
    """BPTT steps t1-1 down to t0 (dyc: dy[t0:t1]): ``rnn_bwd`` writes dA[t - t0], then dhg = it W_hh."""
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - t0
        rnn_bwd(dhg, carry, dyc[k], hs[t + 1], masks[t], dA[k], relu)
        step_product(dA[k], M, form, tmp, dhg)


@njit(cache=True, nogil=True)
def gru_fwd_loop(M, form, tmp, b_ih, b_hh, Gi, rev, gh, ghn, hs, masks):
    """All T steps: gh = h_{t-1} W_hh^T, then ``gru_fwd`` on Gi's step (T, B, 3H, memory order)."""
    T = hs.shape[0] - 1
    for t in range(T):
        step_product(hs[t], M, form, tmp, gh)
        gru_fwd(Gi[T - 1 - t if rev else t], gh, b_ih, b_hh, hs[t], masks[t], ghn[t], hs[t + 1])


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
