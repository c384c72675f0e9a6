"""Losses and their backward passes equal PyTorch's in float64, and pass finite differences.

Softmax cross entropy and log-softmax run in compiled row kernels unless the engine runs "numpy": the tests
that take the ``path`` fixture run both.
"""
import numpy as np
import pytest

from rnnlab import engine
from rnnlab.gradcheck import check_grads
from rnnlab.losses import (bce_with_logits, bce_with_logits_backward, cross_entropy, cross_entropy_backward,
                           log_softmax, sigmoid, softmax)

from conftest import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = 1e-10


@pytest.fixture(params=["numpy", "compiled"])
def path(request):
    """Run the test on NumPy's ufuncs, then on the compiled row kernels (the default where numba is installed)."""
    import rnnlab.losses as losses
    if request.param == "compiled" and losses._kernels() is None:
        pytest.skip("numba is not installed")
    with engine.use_backend("numpy" if request.param == "numpy" else "numba"):
        yield request.param


def test_softmax_helpers_match_torch_and_are_stable(path):
    x = np.random.default_rng(0).standard_normal((3, 4, 7)) * 5
    x[0, 0] += 1e4                                   # would overflow a naive exp
    assert_close("log_softmax", log_softmax(x), F.log_softmax(torch.from_numpy(x), -1).numpy(), TOL)
    assert_close("softmax", softmax(x), F.softmax(torch.from_numpy(x), -1).numpy(), TOL)
    assert_close("softmax axis 1", softmax(x, axis=1), F.softmax(torch.from_numpy(x), 1).numpy(), TOL)
    z = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    assert_close("sigmoid", sigmoid(z), torch.sigmoid(torch.from_numpy(z)).numpy(), TOL)


def torch_ce(logits, targets, w, reduction):
    lt = torch.from_numpy(logits).requires_grad_()
    per = F.cross_entropy(lt.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1),
                          reduction="none", ignore_index=-100).reshape(targets.shape)
    wt = torch.from_numpy(w)
    loss = (per * wt).sum() if reduction == "sum" else (per * wt).sum() / wt.sum()
    loss.backward()
    return loss.item(), lt.grad.numpy()


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(mask_kind, reduction, path):
    rng = np.random.default_rng(1)
    B, T, C = 3, 5, 6
    logits = rng.standard_normal((B, T, C)) * 3
    targets = rng.integers(0, C, size=(B, T))
    targets[0, 3:] = -100                            # ignore_index, as PyTorch
    mask = {"none": None, "bool": rng.random((B, T)) < 0.7, "float": rng.random((B, T))}[mask_kind]
    w = (targets != -100).astype(np.float64) * (1.0 if mask is None else mask)

    loss, cache = cross_entropy(logits, targets, mask=mask, reduction=reduction)
    dlogits = cross_entropy_backward(cache, dloss=2.5)
    want, want_grad = torch_ce(logits, targets, w, reduction)
    assert isinstance(loss, float)
    assert_close("loss", loss, want, TOL)
    assert_close("dlogits", dlogits, 2.5 * want_grad, TOL)


def test_cross_entropy_plain_mean_is_torch_default(path):
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((8, 4)), rng.integers(0, 4, size=8)
    targets[2] = -100
    lt = torch.from_numpy(logits).requires_grad_()
    want = F.cross_entropy(lt, torch.from_numpy(targets))
    want.backward()
    loss, cache = cross_entropy(logits, targets)
    assert_close("loss", loss, want.item(), TOL)
    assert_close("dlogits", cross_entropy_backward(cache), lt.grad.numpy(), TOL)


def test_cross_entropy_inplace_reuses_the_logits_buffer_and_gives_the_same_result(monkeypatch, path):
    import rnnlab.losses as losses
    monkeypatch.setattr(losses, "_BLOCK", 10)       # several blocks of rows in log_softmax
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 6, 7)) * 3
    targets = rng.integers(0, 7, size=(5, 6))
    mask = rng.random((5, 6)) < 0.7
    loss, cache = cross_entropy(logits, targets, mask=mask)
    want = cross_entropy_backward(cache)
    buf = logits.copy()
    loss2, cache2 = cross_entropy(buf, targets, mask=mask, inplace=True)
    assert cache2[0] is buf                          # log-probabilities written over the logits
    got = cross_entropy_backward(cache2, inplace=True)
    assert got is buf
    assert_close("loss", loss2, loss, 1e-12)
    assert_close("dlogits", got, want, 1e-12)
    assert_close("log_softmax blocks", log_softmax(logits), F.log_softmax(torch.from_numpy(logits), -1).numpy(), TOL)


def test_cross_entropy_finite_differences(path):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 3, 5))
    targets = rng.integers(0, 5, size=(4, 3))
    mask = rng.random((4, 3)) < 0.8
    _, cache = cross_entropy(logits, targets, mask=mask)
    check_grads(lambda: cross_entropy(logits, targets, mask=mask)[0], {"logits": logits},
                {"logits": cross_entropy_backward(cache)})


def test_cross_entropy_everything_masked_is_zero(path):
    logits = np.random.default_rng(4).standard_normal((2, 3, 4))
    loss, cache = cross_entropy(logits, np.zeros((2, 3), int), mask=np.zeros((2, 3), bool))
    assert loss == 0.0
    assert not cross_entropy_backward(cache).any()


@pytest.mark.parametrize("inplace", [False, True])
def test_cross_entropy_float32_matches_torch(path, inplace):
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal((16, 9, 300)) * 8).astype(np.float32)   # rows spanning > 87: exp underflows
    logits[0, 0, 7] = 300.0
    targets = rng.integers(0, 300, size=(16, 9))
    targets[1, 2:] = -100
    lt = torch.from_numpy(logits.copy()).requires_grad_()
    want = F.cross_entropy(lt.reshape(-1, 300), torch.from_numpy(targets).reshape(-1), ignore_index=-100)
    want.backward()
    buf = logits.copy()
    loss, cache = cross_entropy(buf, targets, inplace=inplace)
    dlogits = cross_entropy_backward(cache, inplace=inplace)
    assert dlogits.dtype == np.float32 and (dlogits is buf) == inplace
    assert_close("loss", loss, want.item(), 1e-5)
    assert_close("dlogits", dlogits, lt.grad.numpy(), 1e-8)
    assert_close("log_softmax", log_softmax(logits), F.log_softmax(torch.from_numpy(logits), -1).numpy(), 1e-5)


def test_compiled_and_numpy_log_softmax_agree_on_non_finite_rows():
    x = np.array([[0.0, -np.inf, 1.0], [np.inf, 0.0, 0.0], [np.nan, 0.0, 0.0], [-100.0, 0.0, -200.0]], np.float32)
    with engine.use_backend("numpy"), np.errstate(invalid="ignore"):   # inf - inf
        want = log_softmax(x)
    np.testing.assert_allclose(log_softmax(x), want, rtol=1e-6, equal_nan=True)


def test_the_compiled_kernels_run_unless_the_engine_runs_numpy(monkeypatch):
    import rnnlab.losses as losses
    K = losses._kernels()
    if K is None:
        pytest.skip("numba is not installed")
    calls = []
    for name in ("log_softmax_rows", "cross_entropy_backward_rows"):
        fn = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, _fn=fn, _name=name: (calls.append(_name), _fn(*a))[1])
    logits = np.random.default_rng(6).standard_normal((4, 5, 6)).astype(np.float32)
    targets = np.zeros((4, 5), dtype=np.int64)
    with engine.use_backend("numpy"):
        cross_entropy_backward(cross_entropy(logits, targets)[1])
        log_softmax(logits)
    assert calls == []
    with engine.use_backend("numba"):
        cross_entropy_backward(cross_entropy(logits, targets)[1])
        log_softmax(logits)
        log_softmax(logits[:, :, ::2])               # not C-contiguous: NumPy's ufuncs
    assert calls == ["log_softmax_rows", "cross_entropy_backward_rows", "log_softmax_rows"]


def test_cross_entropy_rejects_bad_targets():
    logits = np.zeros((2, 3, 4))
    targets = np.array([[0, 1, 2], [3, 4, 0]])
    with pytest.raises(ValueError, match=r"targets\[1, 1\] = 4 is out of range for 4 classes"):
        cross_entropy(logits, targets)
    mask = np.ones((2, 3), bool)
    mask[1, 1] = False                               # out-of-range ids under the mask are never read
    cross_entropy(logits, targets, mask=mask)
    with pytest.raises(ValueError, match="integer class ids"):
        cross_entropy(logits, targets.astype(float))
    with pytest.raises(ValueError, match="shape"):
        cross_entropy(logits, targets[:, :2])
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(logits, np.zeros((2, 3), int), reduction="none")


@pytest.mark.parametrize("mask_kind", ["none", "full", "prefix"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_matches_torch(mask_kind, reduction):
    rng = np.random.default_rng(5)
    B, T, P = 2, 6, 8                                # P: pitches of a piano roll
    logits = rng.standard_normal((B, T, P)) * 4
    logits[0, 0, 0] = 60.0                           # far in the tail: still exact
    targets = (rng.random((B, T, P)) < 0.3).astype(np.float64)
    targets[1, 2] = rng.random(P)                    # soft targets are allowed
    mask = {"none": None, "full": rng.random((B, T, P)) < 0.7, "prefix": rng.random((B, T)) < 0.7}[mask_kind]
    w = np.ones((B, T, P)) if mask is None else np.broadcast_to(
        mask.reshape(mask.shape + (1,) * (3 - mask.ndim)), (B, T, P)).astype(np.float64)

    loss, cache = bce_with_logits(logits, targets, mask=mask, reduction=reduction)
    dlogits = bce_with_logits_backward(cache, dloss=0.5)
    lt = torch.from_numpy(logits).requires_grad_()
    per = F.binary_cross_entropy_with_logits(lt, torch.from_numpy(targets), reduction="none")
    wt = torch.from_numpy(np.ascontiguousarray(w))
    want = (per * wt).sum() if reduction == "sum" else (per * wt).sum() / wt.sum()
    want.backward()
    assert_close("loss", loss, want.item(), TOL)
    assert_close("dlogits", dlogits, 0.5 * lt.grad.numpy(), TOL)


def test_bce_with_logits_finite_differences():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 5)) * 2
    targets = (rng.random((3, 4, 5)) < 0.5).astype(np.float64)
    mask = rng.random((3, 4)) < 0.8
    _, cache = bce_with_logits(logits, targets, mask=mask)
    check_grads(lambda: bce_with_logits(logits, targets, mask=mask)[0], {"logits": logits},
                {"logits": bce_with_logits_backward(cache)})


def test_bce_with_logits_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bce_with_logits(np.zeros((2, 3)), np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="shape"):
        bce_with_logits(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="leading part"):
        bce_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), mask=np.ones(3, bool))
