"""The engine's backends ("numpy" ufunc chains, "numba" fused kernels, "numba_loops" compiled
time loops) agree, and ``step`` equals one step of ``forward``, for every cell, dtype and mask setting."""
import itertools

import numpy as np
import pytest

from rnnlab import engine

from conftest import assert_close



def _available(name):
    try:
        with engine.use_backend(name):
            return True
    except ImportError:
        return False


AVAILABLE = [b for b in engine.BACKENDS if _available(b)]
COMPILED = [b for b in AVAILABLE if b != "numpy"]

CELLS = {"rnn": (engine.rnn, 1, {}), "rnn_relu": (engine.rnn, 1, {"nonlinearity": "relu"}),
         "lstm": (engine.lstm, 4, {}), "gru": (engine.gru, 3, {})}
# float32: the numba path's tanh is a rational approximation (a few ulp), and BPTT
# accumulates those over T steps; float64 uses libm's tanh on both paths.
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def make(kind, dtype, T=7, B=4, I=5, H=6, masked=False, seed=0):
    mod, gates, kw = CELLS[kind]
    rng = np.random.default_rng(seed)
    params = {"W_ih": rng.uniform(-0.5, 0.5, (gates * H, I)), "W_hh": rng.uniform(-0.5, 0.5, (gates * H, H)),
              "b_ih": rng.uniform(-0.5, 0.5, gates * H), "b_hh": rng.uniform(-0.5, 0.5, gates * H)}
    params = {k: v.astype(dtype) for k, v in params.items()}
    x = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    state0 = (h0, rng.standard_normal((B, H)).astype(dtype)) if kind == "lstm" else h0
    mask = None
    if masked:
        lengths = rng.integers(1, T + 1, size=B)
        mask = (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)[:, :, None]
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    dstate = (rng.standard_normal((B, H)).astype(dtype),) * 2 if kind == "lstm" else rng.standard_normal((B, H)).astype(dtype)
    return mod, kw, params, x, state0, mask, dy, dstate


def run_both_ways(mod, kw, params, x, state0, mask, dy, dstate):
    y, sT, cache = mod.forward(x, state0, params, mask=mask, **kw)
    dx, ds0, grads = mod.backward(dy, dstate, cache)
    return {"y": y, "state_T": sT, "dx": dx, "dstate0": ds0, **{"d" + k: v for k, v in grads.items()}}


def flat(name, v):
    return [(f"{name}[{i}]", a) for i, a in enumerate(v)] if isinstance(v, tuple) else [(name, v)]


@pytest.mark.skipif(not COMPILED, reason="the compiled backends need numba (pip install rnnlab[fast])")
@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("kind,dtype,masked,reverse",
                         list(itertools.product(CELLS, [np.float32, np.float64], [False, True], [False, True])))
def test_numpy_and_compiled_backends_agree(kind, dtype, masked, reverse, backend):
    _check_backends_agree(backend, dtype, reverse, *make(kind, dtype, masked=masked))


def _check_backends_agree(backend, dtype, reverse, mod, kw, params, x, state0, mask, dy, dstate):
    if reverse:            # the layer runs a backward direction on reversed views
        x, dy = x[::-1], dy[::-1]
        mask = None if mask is None else mask[::-1]
    with engine.use_backend("numpy"):
        want = run_both_ways(mod, kw, params, x, state0, mask, dy, dstate)
    with engine.use_backend(backend):
        got = run_both_ways(mod, kw, params, x, state0, mask, dy, dstate)
    for name in want:
        for (n, g), (_, w) in zip(flat(name, got[name]), flat(name, want[name])):
            assert g.dtype == dtype, f"{n}: dtype {g.dtype}"
            assert_close(n, g, w, TOL[dtype])


@pytest.mark.parametrize("backend,kind,dtype",
                         list(itertools.product(AVAILABLE, CELLS, [np.float32, np.float64])))
def test_step_equals_one_step_of_forward(backend, kind, dtype):
    mod, kw, params, x, state0, _, _, _ = make(kind, dtype)
    with engine.use_backend(backend):
        y, sT, _ = mod.forward(x[:1], state0, params, **kw)
        h, s = mod.step(x[0], state0, params, **kw)
    assert_close("h_t", h, y[0], 10 * np.finfo(dtype).eps)
    for (n, a), (_, b) in zip(flat("state", s), flat("state", sT)):
        assert_close(n, a, b, 10 * np.finfo(dtype).eps)


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="backend must be one of"):
        engine.set_backend("fortran")
    assert engine.get_backend() in engine.BACKENDS


@pytest.mark.skipif(not COMPILED, reason="the compiled backends need numba (pip install rnnlab[fast])")
@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype,masked,reverse", list(itertools.product([np.float32, np.float64], [False, True],
                                                                         [False, True])))
def test_feature_major_lstm_backends_agree(dtype, masked, reverse, backend):
    """The LSTM's feature-major path (B >= 16): gates, cells and BPTT in (features, batch) blocks."""
    assert 16 >= engine.lstm.FM["min_batch"]
    _check_backends_agree(backend, dtype, reverse, *make("lstm", dtype, T=9, B=16, I=5, H=12, masked=masked))


@pytest.mark.parametrize("backend", AVAILABLE)
def test_feature_major_lstm_cache_serves_one_backward(backend):
    """BPTT turns the cached gate values into gate gradients in place, so a second backward on the same
    forward is refused with a clear message (as PyTorch refuses a second backward through a freed graph)."""
    mod, kw, params, x, state0, _, dy, dstate = make("lstm", np.float64, B=16)
    with engine.use_backend(backend):
        _, _, cache = mod.forward(x, state0, params)
        mod.backward(dy, dstate, cache)
        with pytest.raises(RuntimeError, match="already used by a backward pass"):
            mod.backward(dy, dstate, cache)


@pytest.mark.parametrize("backend", AVAILABLE)
@pytest.mark.parametrize("masked,reverse,need_dx", [(False, False, True), (True, True, True), (True, False, False)])
def test_feature_major_lstm_chunks_match_batch_major(backend, masked, reverse, need_dx, monkeypatch):
    """The feature-major path's BPTT takes chunks of up to 3 steps here (10 steps: 1, 1, 2, 3, 3, latest
    first, each chunk's gate gradients kept in the gates of the steps after it): the same numbers as the
    batch-major path (float64), masks, reversed views and no dx included."""
    monkeypatch.setattr(engine._ops, "CHUNK_ROWS", 48)
    mod, kw, params, x, state0, mask, dy, dstate = make("lstm", np.float64, T=10, B=16, I=5, H=7, masked=masked)
    if reverse:
        x, dy = x[::-1], dy[::-1]
        mask = None if mask is None else mask[::-1]
    results = []
    for min_batch in (16, 10 ** 9):              # feature-major, then batch-major
        monkeypatch.setattr(engine.lstm, "FM", {"min_batch": min_batch})
        with engine.use_backend(backend):
            y, sT, cache = mod.forward(x, state0, params, mask=mask)
            assert isinstance(cache[0], str) == (min_batch == 16)
            if min_batch == 16:
                assert cache[4].shape == (10, 28, 16)     # G (T, 4H, B)
            dx, ds0, grads = mod.backward(dy, dstate, cache, need_dx=need_dx)
        results.append({"y": y, "state_T": sT, "dx": dx, "dstate0": ds0, **{"d" + k: v for k, v in grads.items()}})
    got, want = results
    for name in want:
        if want[name] is None:
            assert got[name] is None, name
            continue
        for (n, g), (_, w) in zip(flat(name, got[name]), flat(name, want[name])):
            assert_close(n, g, w, 1e-12)
