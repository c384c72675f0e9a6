"""The ``"numba_gemm"`` backend: the compiled time loops of ``"numba_loops"`` with rnnlab's own
matrix product (``_gemm``) instead of NumPy's BLAS, when running on one thread (``--threads 1``,
the command line's default below hidden 512; ``rnnlab.engine.set_num_threads``):

- the per-step products of every path run on it (``own_steps``), except a weight larger than the
  L2 cache where OpenBLAS has AVX-512 kernels;
- where NumPy's OpenBLAS runs kernels without AVX-512 (``OPENBLAS_CORETYPE=Haswell`` on an AVX-512
  CPU, say), the LSTM's feature-major path (batches of 16 and up) runs every product of the layer
  on it, input projection, weight gradients and dx included (``own_layer``); with
  OpenBLAS's AVX-512 kernels those large products stay in NumPy, which runs them as fast or faster.

With more threads everything runs as on ``"numba_loops"``: the BLAS's threads share each product,
and a pool of our own would wake too slowly on machines whose idle cores sleep (docs/benchmarks.md).
"""
import numpy as np
from numba import get_num_threads

from . import _blas, _numba_loops
from ._numba_loops import (gemm_acc, gru_bwd, gru_bwd_loop, gru_fwd, gru_fwd_loop, lstm_bwd, lstm_bwd_fm,  # noqa: F401
                           lstm_bwd_fm_loop, lstm_bwd_loop, lstm_fwd, lstm_fwd_fm, lstm_fwd_fm_loop, lstm_fwd_loop,
                           masks_2d, rnn_bwd, rnn_bwd_loop, rnn_fwd, rnn_fwd_loop, weight)

LOOPS = True

_blas_avx512 = []
CACHED_WEIGHT = 1 << 20     # bytes: W_hh up to this size stays in the L2 cache from one step to the next


def _avx512_blas():
    if not _blas_avx512:
        _blas_avx512.append(_blas.corename() in _blas.AVX512_CORES)
    return _blas_avx512[0]


def own_steps(W, dtype):
    """The per-step products by W (the layer's W_hh) are rnnlab's own: on one thread, where NumPy's
    OpenBLAS has no AVX-512 kernels (ours run at about twice their rate), or where W fits in the L2
    cache (from one step to the next; a larger W is read from L3 at every step, and there OpenBLAS's
    packed copy of it streams faster than our rows: 0.8-0.9x at H = 384 with the AVX-512 kernels)."""
    return get_num_threads() == 1 and (not _avx512_blas() or W.size * np.dtype(dtype).itemsize <= CACHED_WEIGHT)


def own_layer():
    """The LSTM's feature-major layer runs every product on rnnlab's own: on one thread, where NumPy's
    OpenBLAS has no AVX-512 kernels (the large products run at about half our rate there)."""
    return get_num_threads() == 1 and not _avx512_blas()


def product_form(hh, dtype):
    """``_numba_loops.product_form``, with rnnlab's own per-step product when ``own_steps``."""
    return _numba_loops.product_form(hh, dtype, own=own_steps(hh.left if hh.flip else hh.right, dtype))
