"""Linear-chain CRF: log Z and Viterbi against brute force over all K^T paths, the NLL and every
gradient against torch autograd of an independent per-sequence implementation (float64), and
central finite differences along random directions (no torch)."""
import itertools

import numpy as np
import pytest

from rnnlab.layers.crf import (PARAM_NAMES, bio_transition_mask, crf_nll, crf_nll_backward,
                               init_crf_params, viterbi_decode)

from conftest import assert_close

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def make(B, T, K, lengths, seed, dtype=np.float64, scale=1.0):
    """Random emissions, tags, a right-padded mask and params with scores of order ``scale``."""
    rng = np.random.default_rng(seed)
    params = {n: (scale * rng.standard_normal(p.shape)).astype(dtype)
              for n, p in init_crf_params(K, rng, dtype).items()}
    emissions = (scale * rng.standard_normal((B, T, K))).astype(dtype)
    tags = rng.integers(0, K, size=(B, T))
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    return emissions, tags, mask, params


# ---------------------------------------------------------------------------------- brute force
def path_score(e, path, params):
    """s(y) for one sequence, e (L, K), straight from the definition."""
    s = params["start_transitions"][path[0]] + params["end_transitions"][path[-1]]
    s += sum(e[t, y] for t, y in enumerate(path))
    s += sum(params["transitions"][a, b] for a, b in zip(path[:-1], path[1:]))
    return s


def all_paths(L, K, allowed=None, starts=None):
    for path in itertools.product(range(K), repeat=L):
        if starts is not None and not starts[path[0]]:
            continue
        if allowed is not None and not all(allowed[a, b] for a, b in zip(path[:-1], path[1:])):
            continue
        yield path


def brute_log_z(e, params):
    scores = np.array([path_score(e, p, params) for p in all_paths(len(e), e.shape[1])])
    return np.logaddexp.reduce(scores)


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("T,lengths", [(1, [1, 1]), (2, [2, 1]), (3, [3, 1, 2]), (4, [4, 2, 1, 3])])
def test_log_z_and_nll_match_brute_force(T, lengths, dtype, atol):
    K = 3
    em, tags, mask, params = make(len(lengths), T, K, lengths, seed=T, dtype=dtype)
    nll, cache = crf_nll(em, tags, mask, params, reduction="none")
    assert nll.dtype == dtype and nll.shape == (len(lengths),)
    p64 = {n: v.astype(np.float64) for n, v in params.items()}
    for b, L in enumerate(lengths):
        e = em[b, :L].astype(np.float64)
        want_z = brute_log_z(e, p64)
        assert_close(f"log_z[{b}]", cache.log_z[b], want_z, atol)
        assert_close(f"nll[{b}]", nll[b], want_z - path_score(e, tags[b, :L], p64), atol)


# ---------------------------------------------------------------------------------- torch autograd
def torch_crf_nll(torch, em, tags, lengths, start, end, trans):
    """NLL per sequence, one unpadded sequence at a time (no masks), for autograd."""
    out = []
    for b, L in enumerate(lengths):
        e, y = em[b, :L], torch.as_tensor(tags[b, :L])
        alpha = start + e[0]
        for t in range(1, L):
            alpha = torch.logsumexp(alpha[:, None] + trans, dim=0) + e[t]
        log_z = torch.logsumexp(alpha + end, dim=0)
        gold = start[y[0]] + e[torch.arange(L), y].sum() + trans[y[:-1], y[1:]].sum() + end[y[-1]]
        out.append(log_z - gold)
    return torch.stack(out)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("B,T,K,lengths", [(1, 1, 4, [1]), (3, 5, 4, [5, 2, 1]), (4, 7, 6, [7, 7, 3, 6])])
def test_nll_and_grads_match_torch(B, T, K, lengths, reduction):
    torch = pytest.importorskip("torch")
    em, tags, mask, params = make(B, T, K, lengths, seed=B * 10 + T, scale=2.0)
    rng = np.random.default_rng(0)
    dloss = rng.standard_normal(B) if reduction == "none" else rng.standard_normal()

    loss, cache = crf_nll(em, tags, mask, params, reduction=reduction)
    demissions, grads = crf_nll_backward(dloss, cache)

    em_t = torch.from_numpy(em.copy()).requires_grad_()
    p_t = {n: torch.from_numpy(v.copy()).requires_grad_() for n, v in params.items()}
    nll_t = torch_crf_nll(torch, em_t, tags, lengths, p_t["start_transitions"], p_t["end_transitions"],
                          p_t["transitions"])
    loss_t = {"mean": nll_t.mean(), "sum": nll_t.sum(), "none": nll_t}[reduction]
    (loss_t * torch.from_numpy(np.asarray(dloss))).sum().backward()

    assert_close("loss", loss, loss_t.detach().numpy(), 1e-8)
    assert_close("demissions", demissions, em_t.grad.numpy(), 1e-8)
    for n in PARAM_NAMES:
        assert_close(f"d{n}", grads[n], p_t[n].grad.numpy(), 1e-8)
    assert not demissions[~mask].any(), "padded steps must get zero gradient"


def test_matches_pytorch_crf_when_installed():
    """Same parameter names and semantics as torchcrf.CRF: load our params, get the same NLL and paths."""
    torch = pytest.importorskip("torch")
    torchcrf = pytest.importorskip("torchcrf")
    B, T, K, lengths = 3, 6, 5, [6, 4, 1]
    em, tags, mask, params = make(B, T, K, lengths, seed=7)
    ref = torchcrf.CRF(K, batch_first=True).double()
    ref.load_state_dict({n: torch.from_numpy(v.copy()) for n, v in params.items()})
    args = torch.from_numpy(em), torch.from_numpy(tags), torch.from_numpy(mask)
    for reduction in ("mean", "sum", "none"):
        loss, _ = crf_nll(em, tags, mask, params, reduction=reduction)
        assert_close(f"loss ({reduction})", loss, -ref(*args, reduction=reduction).detach().numpy(), 1e-10)
    assert viterbi_decode(em, mask, params) == ref.decode(args[0], mask=args[2])


# ---------------------------------------------------------------------------------- finite differences
def check_grads_fd(f, inputs, grads, rng, eps=1e-6, rtol=1e-6):
    """Directional derivative of scalar f along a random v, per input: central difference vs <grad, v>."""
    for name, x in inputs.items():
        v = rng.standard_normal(x.shape)
        x0 = x.copy()
        x[...] = x0 + eps * v
        fp = f()
        x[...] = x0 - eps * v
        fm = f()
        x[...] = x0
        numeric = (fp - fm) / (2 * eps)
        analytic = float(np.sum(grads[name] * v))
        assert abs(numeric - analytic) <= rtol * max(1.0, abs(analytic)), \
            f"{name}: finite difference {numeric:.10f} vs backward {analytic:.10f}, diff {abs(numeric - analytic):.2e}"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_grads_by_finite_differences(reduction):
    B, T, K, lengths = 3, 5, 4, [5, 3, 1]
    em, tags, mask, params = make(B, T, K, lengths, seed=3, scale=1.5)
    rng = np.random.default_rng(1)
    dloss = rng.standard_normal(B) if reduction == "none" else rng.standard_normal()

    def f():
        loss, _ = crf_nll(em, tags, mask, params, reduction=reduction)
        return float(np.sum(loss * dloss))

    _, cache = crf_nll(em, tags, mask, params, reduction=reduction)
    demissions, grads = crf_nll_backward(dloss, cache)
    check_grads_fd(f, {"emissions": em, **params}, {"emissions": demissions, **grads}, rng)


def test_float32_follows_float64():
    B, T, K, lengths = 3, 6, 5, [6, 4, 2]
    em, tags, mask, params = make(B, T, K, lengths, seed=11)
    loss64, c64 = crf_nll(em, tags, mask, params)
    dem64, g64 = crf_nll_backward(1.0, c64)
    loss32, c32 = crf_nll(em.astype(np.float32), tags, mask, {n: v.astype(np.float32) for n, v in params.items()})
    dem32, g32 = crf_nll_backward(1.0, c32)
    assert loss32.dtype == np.float32 and dem32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in g32.values())
    assert_close("loss", loss32, loss64, 1e-5)
    assert_close("demissions", dem32, dem64, 1e-6)
    for n in PARAM_NAMES:
        assert_close(f"d{n}", g32[n], g64[n], 1e-5)


def test_long_sequences_with_large_scores_stay_finite():
    em, tags, mask, params = make(2, 200, 8, [200, 57], seed=5, scale=30.0)
    loss, cache = crf_nll(em, tags, mask, params, reduction="none")
    demissions, grads = crf_nll_backward(np.ones(2), cache)
    assert np.isfinite(loss).all() and (loss >= 0).all()
    assert np.isfinite(demissions).all() and all(np.isfinite(g).all() for g in grads.values())
    # each valid step's marginals sum to 1, the gold one-hot to 1: the row sums to 0
    assert_close("demissions row sums", demissions.sum(axis=2), np.zeros((2, 200)), 1e-10)


# ---------------------------------------------------------------------------------- Viterbi
def brute_best(e, params, allowed=None, starts=None):
    paths = list(all_paths(len(e), e.shape[1], allowed, starts))
    return list(max(paths, key=lambda p: path_score(e, p, params)))


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_matches_brute_force_and_mask(seed):
    B, T, K, lengths = 4, 4, 3, [4, 1, 3, 2]
    em, _, mask, params = make(B, T, K, lengths, seed=seed, scale=2.0)
    paths = viterbi_decode(em, mask, params)
    assert [len(p) for p in paths] == lengths
    for b, L in enumerate(lengths):
        assert paths[b] == brute_best(em[b, :L], params), f"sequence {b}"
    # what sits in the padding does not matter
    em2 = em.copy()
    em2[~mask] = 100.0 * np.random.default_rng(seed).standard_normal((int((~mask).sum()), K))
    assert viterbi_decode(em2, mask, params) == paths


def test_bio_transition_mask():
    allowed, starts = bio_transition_mask(BIO)
    # rows: from O, B-PER, I-PER, B-LOC, I-LOC; columns: to the same
    want = np.array([[1, 1, 0, 1, 0],
                     [1, 1, 1, 1, 0],
                     [1, 1, 1, 1, 0],
                     [1, 1, 0, 1, 1],
                     [1, 1, 0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(allowed, want)
    np.testing.assert_array_equal(starts, [True, True, False, True, False])


@pytest.mark.parametrize("seed", range(4))
def test_viterbi_respects_bio_constraints(seed):
    K, T, lengths = len(BIO), 4, [4, 3, 1]
    em, _, mask, params = make(len(lengths), T, K, lengths, seed=seed, scale=2.0)
    em[:, :, [2, 4]] += 3.0   # favour I- tags so that unconstrained paths break the scheme
    allowed, starts = bio_transition_mask(BIO)
    paths = viterbi_decode(em, mask, params, allowed_transitions=allowed, allowed_starts=starts)
    for b, L in enumerate(lengths):
        assert paths[b] == brute_best(em[b, :L], params, allowed, starts), f"sequence {b}"
        assert starts[paths[b][0]] and all(allowed[i, j] for i, j in zip(paths[b][:-1], paths[b][1:]))


def test_bio_constraints_change_the_decode():
    K = len(BIO)
    params = {n: np.zeros_like(v) for n, v in init_crf_params(K, np.random.default_rng(0), np.float64).items()}
    em = np.zeros((1, 2, K))
    em[0, 0, 2] = 5.0          # I-PER at the start
    em[0, 1, 2] = 5.0          # and again
    em[0, 0, 1] = 1.0          # B-PER is the best allowed start, and the only one I-PER may follow
    assert viterbi_decode(em, None, params) == [[2, 2]]
    allowed, starts = bio_transition_mask(BIO)
    assert viterbi_decode(em, None, params, allowed, starts) == [[1, 2]]


# ---------------------------------------------------------------------------------- init and errors
def test_init_crf_params():
    for dtype in (np.float32, np.float64):
        p = init_crf_params(6, np.random.default_rng(0), dtype)
        assert tuple(p) == PARAM_NAMES
        assert p["transitions"].shape == (6, 6) and p["start_transitions"].shape == (6,)
        assert all(v.dtype == dtype and np.abs(v).max() <= 0.1 for v in p.values())
    with pytest.raises(ValueError, match="num_tags"):
        init_crf_params(0, np.random.default_rng(0))


def test_padded_tags_are_ignored():
    em, tags, mask, params = make(2, 4, 3, [4, 2], seed=0)
    loss, _ = crf_nll(em, tags, mask, params, reduction="none")
    tags2 = tags.copy()
    tags2[~mask] = -100       # a common padding value
    loss2, _ = crf_nll(em, tags2, mask, params, reduction="none")
    np.testing.assert_array_equal(loss, loss2)


def test_bad_inputs():
    em, tags, mask, params = make(2, 4, 3, [4, 2], seed=0)
    cases = [
        (lambda: crf_nll(em[0], tags, mask, params), r"emissions must have 3 dimensions .*\(B, T, K\).*\(4, 3\)"),
        (lambda: crf_nll(em[:, :, :2], tags, mask, params), r"emissions must have last dimension 3.*\(2, 4, 2\)"),
        (lambda: crf_nll(em.astype(np.float32), tags, mask, params), r"emissions has dtype float32"),
        (lambda: crf_nll(em, tags[:, :3], mask, params), r"tags must have shape \(2, 4\).*got \(2, 3\)"),
        (lambda: crf_nll(em, tags.astype(float), mask, params), r"tags must be integers"),
        (lambda: crf_nll(em, np.full_like(tags, 3), mask, params), r"tags\[0, 0\] = 3 is out of range \[0, 3\)"),
        (lambda: crf_nll(em, -tags - 1, mask, params), r"tags\[0, 0\] = -\d is out of range"),
        (lambda: crf_nll(em, tags, mask[:, :3], params), r"mask must have shape \(2, 4\).*got \(2, 3\)"),
        (lambda: crf_nll(em, tags, mask * 0.5, params), r"mask must be boolean"),
        (lambda: crf_nll(em, tags, np.array([[1, 1, 1, 1], [0, 1, 0, 0]], bool), params),
         r"mask\[:, 0\] must be all True.*mask\[1, 0\]"),
        (lambda: crf_nll(em, tags, np.array([[1, 0, 1, 1], [1, 1, 0, 0]], bool), params),
         r"right-padded.*mask\[0, 1\]"),
        (lambda: crf_nll(em, tags, mask, params, reduction="avg"), r"reduction must be one of"),
        (lambda: crf_nll(em, tags, mask, {k: v for k, v in params.items() if k != "transitions"}),
         r"missing \['transitions'\]"),
        (lambda: crf_nll(em, tags, mask, {**params, "transitions": np.zeros((3, 4))}),
         r"transitions must have shape \(3, 3\) \(K, K\), got \(3, 4\)"),
        (lambda: crf_nll(em, tags, mask, {**params, "end_transitions": np.zeros(4)}),
         r"end_transitions must have shape \(3,\) \(K,\), got \(4,\)"),
        (lambda: viterbi_decode(em[:, :0], None, params), r"T >= 1"),
        (lambda: viterbi_decode(em, mask, params, allowed_transitions=np.ones((3, 2), bool)),
         r"allowed_transitions must be a boolean array of shape \(3, 3\)"),
        (lambda: viterbi_decode(em, mask, params, allowed_starts=np.zeros(3, bool)),
         r"no tag path of sequence 0"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    _, cache = crf_nll(em, tags, mask, params, reduction="none")
    with pytest.raises(ValueError, match=r"dloss must have shape \(2,\)"):
        crf_nll_backward(1.0, cache)
    _, cache = crf_nll(em, tags, mask, params, reduction="mean")
    with pytest.raises(ValueError, match=r"dloss must be a scalar"):
        crf_nll_backward(np.ones(2), cache)
