"""Every output and gradient of RNN/LSTM/GRU equals PyTorch's in float64."""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import GRU, LSTM, RNN  # noqa: E402
from rnnlab.engine import BACKENDS as ENGINE_BACKENDS, use_backend  # noqa: E402

from conftest import assert_close  # noqa: E402

TORCH = {"rnn": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def make(kind, I, H, L, bidir, seed):
    if kind == "rnn_relu":
        ours = RNN(I, H, num_layers=L, nonlinearity="relu", bidirectional=bidir, dtype=np.float64, seed=seed)
        ref = torch.nn.RNN(I, H, num_layers=L, nonlinearity="relu", bidirectional=bidir, batch_first=True)
    else:
        ours = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](I, H, num_layers=L, bidirectional=bidir,
                                                            dtype=np.float64, seed=seed)
        ref = TORCH[kind](I, H, num_layers=L, bidirectional=bidir, batch_first=True)
    ref = ref.double()
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, ref


def torch_run(ref, x, state, lengths, dy, dstate, kind):
    xt = torch.from_numpy(x).requires_grad_()
    if state is None:
        st = None
    elif kind == "lstm":
        st = tuple(torch.from_numpy(s.copy()).requires_grad_() for s in state)
    else:
        st = torch.from_numpy(state.copy()).requires_grad_()
    T = x.shape[1]
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=True,
                                                         enforce_sorted=False)
        out, fin = ref(packed, st)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    else:
        y, fin = ref(xt, st)
    loss = (y * torch.from_numpy(dy)).sum()
    if kind == "lstm":
        loss = loss + (fin[0] * torch.from_numpy(dstate[0])).sum() + (fin[1] * torch.from_numpy(dstate[1])).sum()
    else:
        loss = loss + (fin * torch.from_numpy(dstate)).sum()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    if st is None:
        dst = None
    elif kind == "lstm":
        dst = tuple(s.grad.numpy() for s in st)
    else:
        dst = st.grad.numpy()
    fin = tuple(f.detach().numpy() for f in fin) if kind == "lstm" else fin.detach().numpy()
    return y.detach().numpy(), fin, xt.grad.numpy(), dst, grads


CASES = list(itertools.product(["rnn", "rnn_relu", "lstm", "gru"], [1, 2, 3], [False, True], [False, True], [False, True]))


def _available(name):
    try:
        with use_backend(name):
            return True
    except ImportError:
        return False


BACKENDS = [b for b in ENGINE_BACKENDS if _available(b)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,L,bidir,use_lengths,use_state", CASES)
def test_matches_torch(kind, L, bidir, use_lengths, use_state, backend):
    with use_backend(backend):
        _check_against_torch(kind, L, bidir, use_lengths, use_state)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,L,bidir,use_lengths,use_state",
                         [c for c in CASES if c[1] == 2 and c[3] == c[4]])
def test_transposed_step_products_match_torch(kind, L, bidir, use_lengths, use_state, backend, monkeypatch):
    """The flipped form of the per-step products (used for some batch and hidden sizes) is exact too."""
    from rnnlab.engine import _ops
    monkeypatch.setattr(_ops, "FLIP", {"min_batch": 1, "max_batch": 10 ** 9, "min_size": 1})
    assert _ops.StepProduct(np.eye(2), 3, transpose=True).flip
    with use_backend(backend):
        _check_against_torch(kind, L, bidir, use_lengths, use_state)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,L,bidir,use_lengths,use_state",
                         [c for c in CASES if c[1] == 2 and c[3] == c[4]])
def test_weight_gradients_summed_over_chunks_match_torch(kind, L, bidir, use_lengths, use_state, backend, monkeypatch):
    """BPTT's weight gradients summed over many chunks (one step each here; the compiled backends add each
    chunk's products into the sums inside the GEMM, ``gemm_acc``) are exact too."""
    from rnnlab.engine import _numba_loops, _ops
    monkeypatch.setattr(_ops, "CHUNK_ROWS", 1)
    assert _ops.chunks(3, 2) == ([(2, 3), (1, 2), (0, 1)], 1)
    calls = []
    if backend in ("numba_loops", "numba_gemm"):
        acc = _numba_loops.gemm_acc
        monkeypatch.setattr(_numba_loops, "gemm_acc", lambda *a: (calls.append(1), acc(*a))[1])
        if backend == "numba_gemm":
            from rnnlab.engine import _numba_gemm
            monkeypatch.setattr(_numba_gemm, "gemm_acc", _numba_loops.gemm_acc)
    with use_backend(backend):
        _check_against_torch(kind, L, bidir, use_lengths, use_state)
    multi_step = CASES.index((kind, L, bidir, use_lengths, use_state))   # the seed: T >= 2 somewhere
    assert bool(calls) == (backend in ("numba_loops", "numba_gemm") and _uses_chunks(multi_step, kind)), calls


def _uses_chunks(seed, kind):
    """Whether the case's sequence has two steps or more on the batch-major path (the LSTM's feature-major path,
    from FM["min_batch"] rows, sums its chunks in its compiled loop instead)."""
    from rnnlab.engine import lstm
    rng = np.random.default_rng(seed)
    B, T = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    return T >= 2 and not (kind == "lstm" and B >= lstm.FM["min_batch"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("L,bidir,use_lengths,use_state",
                         list(itertools.product([1, 2], [False, True], [False, True], [False, True])))
def test_feature_major_lstm_matches_torch(L, bidir, use_lengths, use_state, backend, monkeypatch):
    """The LSTM's feature-major path (batches of 16 and up) is exact too, at every batch size."""
    from rnnlab.engine import lstm
    monkeypatch.setattr(lstm, "FM", {"min_batch": 1})
    with use_backend(backend):
        _check_against_torch("lstm", L, bidir, use_lengths, use_state)


def _check_against_torch(kind, L, bidir, use_lengths, use_state):
    seed = CASES.index((kind, L, bidir, use_lengths, use_state))
    rng = np.random.default_rng(seed)
    B, T, I, H = (int(v) for v in (rng.integers(1, 5), rng.integers(1, 7), rng.integers(1, 6), rng.integers(1, 6)))
    ours, ref = make(kind, I, H, L, bidir, seed)
    D = 2 if bidir else 1
    x = rng.standard_normal((B, T, I))
    lengths = rng.integers(1, T + 1, size=B) if use_lengths else None
    sshape = (L * D, B, H)
    state = None
    if use_state:
        state = (rng.standard_normal(sshape), rng.standard_normal(sshape)) if kind == "lstm" else rng.standard_normal(sshape)
    dy = rng.standard_normal((B, T, D * H))
    if lengths is not None:
        dy *= (np.arange(T)[None, :] < lengths[:, None])[:, :, None]
    dstate = (rng.standard_normal(sshape), rng.standard_normal(sshape)) if kind == "lstm" else rng.standard_normal(sshape)

    y, fin, cache = ours.forward(x, state, lengths)
    dx, dstate0, grads = ours.backward(dy, cache, dstate)
    ty, tfin, tdx, tdst, tgrads = torch_run(ref, x, state, lengths, dy, dstate, kind)

    tol = 1e-8
    assert_close("y", y, ty, tol)
    if kind == "lstm":
        assert_close("h_n", fin[0], tfin[0], tol)
        assert_close("c_n", fin[1], tfin[1], tol)
    else:
        assert_close("h_n", fin, tfin, tol)
    assert_close("dx", dx, tdx, tol)
    if use_state:
        if kind == "lstm":
            assert_close("dh0", dstate0[0], tdst[0], tol)
            assert_close("dc0", dstate0[1], tdst[1], tol)
        else:
            assert_close("dh0", dstate0, tdst, tol)
    assert list(grads) == list(tgrads), f"grad names {list(grads)} != torch's {list(tgrads)}"
    for name in tgrads:
        assert_close(name, grads[name], tgrads[name], tol)
