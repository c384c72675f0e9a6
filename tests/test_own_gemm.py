"""rnnlab's own matrix product (``engine._gemm``) and the "numba_gemm" backend built on it.

The product is checked against NumPy over every block shape it has (row tails of 1-15, full,
partial and two-vector column panels, K below and above one pass of KC rows), transposed left
operands, strided rows and accumulation. The backend's LSTM path is checked against
PyTorch in float64 on one thread (where it runs its own products), with lengths, both directions,
initial states and dstate.
"""
import itertools

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from rnnlab import engine  # noqa: E402
from rnnlab.engine import _gemm, _ops, lstm  # noqa: E402

from conftest import assert_close  # noqa: E402


@numba.njit
def _product(a, b, c, beta):
    M, K = a.shape
    it = a.itemsize
    _gemm.gemm_nn(M, b.shape[1], K, a, a.strides[0] // it, a.strides[1] // it, b, b.strides[0] // it, beta, c,
                  c.strides[0] // it)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_product_matches_numpy_for_every_block_shape(dtype):
    rng = np.random.default_rng(0)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for M, N, K in itertools.product([1, 2, 3, 7, 8, 9, 16, 17, 33], [1, 3, 8, 15, 16, 17, 31, 32, 33, 48, 100],
                                     [0, 1, 5, 64, 300]):
        a = rng.standard_normal((M, K)).astype(dtype)
        b = rng.standard_normal((K, N + 2)).astype(dtype)[:, 1:-1]      # rows of b ldb = N + 2 apart
        want = a.astype(np.float64) @ b
        c = rng.standard_normal((M, N + 3)).astype(dtype)
        before = c.copy()
        _product(a, b, c[:, :N], 1.0)                                   # c += a b, c's rows N + 3 apart
        assert_close(f"c + a b {M, N, K}", c[:, :N], before[:, :N] + want, tol * max(1, K))
        assert np.array_equal(c[:, N:], before[:, N:]), "wrote past the end of c's rows"
        _product(np.ascontiguousarray(a.T).T, b, c[:, :N], 0.0)         # a read transposed
        assert_close(f"a^T^T b {M, N, K}", c[:, :N], want, tol * max(1, K))


def test_product_is_refused_from_python():
    with pytest.raises(NotImplementedError, match="numba-compiled code only"):
        _gemm.gemm_nn(1, 1, 1, None, 1, 1, None, 1, 0.0, None, 1)


def test_default_backend_follows_the_cpu(monkeypatch):
    from rnnlab.engine import _backend
    monkeypatch.setattr(_backend, "_active", {"name": None, "kernels": None})
    assert engine.get_backend() == ("numba_gemm" if _gemm.preferred() else "numba_loops")


def test_set_num_threads_sets_numba_and_the_blas():
    from threadpoolctl import threadpool_info
    before = numba.get_num_threads()
    limiter = engine.set_num_threads(1)
    try:
        assert numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    finally:
        numba.set_num_threads(before)
        limiter.restore_original_limits()
    with pytest.raises(ValueError, match="at least 1"):
        engine.set_num_threads(0)


def _one_thread():
    """numba's threads set to 1 for a block, as ``--threads 1`` does."""
    from contextlib import contextmanager

    @contextmanager
    def block():
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(before)
    return block()


@pytest.mark.parametrize("layer", [True, False])
@pytest.mark.parametrize("L,bidir,use_lengths,use_state", list(itertools.product([1, 2], [False, True], [False, True],
                                                                                   [False, True])))
def test_lstm_own_products_match_torch(L, bidir, use_lengths, use_state, layer, monkeypatch):
    """The LSTM's feature-major path (from a batch of 1 here) on one thread: every product our own (layer),
    or the per-step products only (as where OpenBLAS has AVX-512 kernels); chunks of 5 // B steps (some
    partial)."""
    pytest.importorskip("torch")
    from rnnlab.engine import _numba_gemm
    from test_recurrent_torch import _check_against_torch
    monkeypatch.setattr(lstm, "FM", {"min_batch": 1})
    monkeypatch.setattr(_ops, "CHUNK_ROWS", 5)
    monkeypatch.setattr(_numba_gemm, "_blas_avx512", [not layer])
    with _one_thread(), engine.use_backend("numba_gemm"):
        _check_against_torch("lstm", L, bidir, use_lengths, use_state)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_one_thread_runs_the_own_products(kind, monkeypatch):
    """With one thread the per-step products (and the LSTM's whole feature-major layer) are our own; with
    more, the same calls go to the BLAS, and both agree."""
    from test_recurrent_torch import _check_against_torch
    from rnnlab.engine import _numba_loops
    seen = []
    form = _numba_loops.product_form
    monkeypatch.setattr(_numba_loops, "product_form",
                        lambda hh, dtype, own=False: seen.append(own) or form(hh, dtype, own))
    pytest.importorskip("torch")
    with _one_thread(), engine.use_backend("numba_gemm"):
        _check_against_torch(kind, 2, True, True, True)
    assert seen and all(seen)


@pytest.mark.parametrize("threads,avx512,B,own", [(1, False, 16, True), (1, False, 40, True), (1, True, 40, False),
                                                   (2, False, 16, False), (2, False, 40, False)])
def test_lstm_feature_major_path_by_threads(threads, avx512, B, own, monkeypatch):
    """The feature-major layer runs every product on our own on one thread where OpenBLAS has no AVX-512
    kernels, and agrees with the NumPy backend either way."""
    from rnnlab.engine import _blas
    monkeypatch.setattr(_blas, "corename", lambda: "skylakex" if avx512 else "haswell")
    from rnnlab.engine import _numba_gemm
    monkeypatch.setattr(_numba_gemm, "_blas_avx512", [])
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread(s) here")
    rng = np.random.default_rng(0)
    H, I, T = 3, 2, 4
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in
              (("W_ih", (4 * H, I)), ("W_hh", (4 * H, H)), ("b_ih", (4 * H,)), ("b_hh", (4 * H,)))}
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    zero = np.zeros((B, H), np.float32)
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with engine.use_backend("numba_gemm"):
            y, _, cache = lstm.forward(x, (zero, zero), params)
            own_layer = _numba_gemm.own_layer()
            with engine.use_backend("numpy"):
                want, _, _ = lstm.forward(x, (zero, zero), params)
    finally:
        numba.set_num_threads(before)
    assert cache[0] == "fm" and own_layer == own
    assert_close("y", y, want, 1e-5)


@pytest.mark.parametrize("kind,shape", list(itertools.product(["rnn", "lstm", "gru"], [(3, 8), (16, 256), (40, 12)])))
def test_float32_own_products_match_torch(kind, shape):
    """float32 on one thread (our own products throughout), against PyTorch's float32 layers."""
    pytest.importorskip("torch")
    from test_recurrent_torch_float32 import test_float32_matches_torch
    with _one_thread():
        test_float32_matches_torch("numba_gemm", kind, shape)


def test_openblas_core_is_read():
    from rnnlab.engine import _blas
    from threadpoolctl import threadpool_info
    arch = [p.get("architecture") for p in threadpool_info() if p.get("filepath") == _blas.LIBRARY]
    assert arch and _blas.corename() == arch[0].lower()
