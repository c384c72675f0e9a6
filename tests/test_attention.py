"""Attention (dot, general, bahdanau) with source masks: PyTorch float64 and finite differences."""
import itertools

import numpy as np
import pytest

from rnnlab.gradcheck import check_grads
from rnnlab.layers.attention import Attention, attention_backward, attention_forward

from conftest import assert_close

torch = pytest.importorskip("torch")

KINDS = ["dot", "general", "bahdanau"]


def torch_attention(q, keys, mask, params, kind):
    """The same equations in torch: q (B, Q) or (B, T, Q), keys (B, S, K), mask (B, S) bool or None."""
    one = q.dim() == 2
    if one:
        q = q[:, None, :]
    if kind == "dot":
        scores = q @ keys.transpose(1, 2)
    elif kind == "general":
        scores = (q @ params["W_a"]) @ keys.transpose(1, 2)
    else:
        z = torch.tanh((q @ params["W_q"].T)[:, :, None, :] + (keys @ params["W_k"].T)[:, None, :, :])
        scores = z @ params["v"]
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    w = torch.softmax(scores, dim=-1)
    ctx = w @ keys
    return (ctx[:, 0], w[:, 0]) if one else (ctx, w)


def _setup(kind, one_step, masked, seed):
    rng = np.random.default_rng(seed)
    B, T, S, K = 3, 4, 5, 6
    Q = K if kind == "dot" else 3
    att = Attention(kind, Q, K, attn_size=None if kind != "bahdanau" else 7, dtype=np.float64, seed=seed)
    q = rng.standard_normal((B, Q) if one_step else (B, T, Q))
    keys = rng.standard_normal((B, S, K))
    mask = None
    if masked:
        lengths = np.array([5, 2, 1])
        mask = np.arange(S)[None, :] < lengths[:, None]
    return att, q, keys, mask, rng


CASES = list(itertools.product(KINDS, [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("kind,one_step,masked,use_dw", CASES)
def test_matches_torch(kind, one_step, masked, use_dw):
    att, q, keys, mask, rng = _setup(kind, one_step, masked, CASES.index((kind, one_step, masked, use_dw)))
    ctx, w, cache = att.forward(q, keys, mask)
    dctx = rng.standard_normal(ctx.shape)
    dw = rng.standard_normal(w.shape) if use_dw else None
    dq, dkeys, grads = att.backward(dctx, cache, dw)

    tq = torch.tensor(q, requires_grad=True)
    tk = torch.tensor(keys, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in att.params.items()}
    tm = None if mask is None else torch.tensor(mask)
    tctx, tw = torch_attention(tq, tk, tm, tp, kind)
    loss = (tctx * torch.tensor(dctx)).sum()
    if use_dw:
        loss = loss + (tw * torch.tensor(dw)).sum()
    loss.backward()

    assert_close("context", ctx, tctx.detach().numpy(), 1e-8)
    assert_close("weights", w, tw.detach().numpy(), 1e-8)
    assert_close("dquery", dq, tq.grad.numpy(), 1e-8)
    assert_close("dkeys", dkeys, tk.grad.numpy(), 1e-8)
    assert list(grads) == list(att.params)
    for name, g in grads.items():
        assert_close(f"d{name}", g, tp[name].grad.numpy(), 1e-8)
    if mask is not None:
        assert np.all(w[~mask] == 0) if one_step else np.all(w.transpose(0, 2, 1)[~mask] == 0)
        assert np.all(dkeys[~mask] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_finite_differences(kind):
    att, q, keys, mask, rng = _setup(kind, False, True, 100)
    ctx, w, cache = att.forward(q, keys, mask)
    pc, pw = rng.standard_normal(ctx.shape), rng.standard_normal(w.shape)

    def loss_fn():
        c, a, _ = attention_forward(q, keys, mask, att.params, kind)
        return np.sum(c * pc) + np.sum(a * pw)

    dq, dkeys, grads = attention_backward(pc, pw, cache)
    check_grads(loss_fn, {"query": q, "keys": keys, **att.params}, {"query": dq, "keys": dkeys, **grads})


def test_one_step_equals_batched_over_time():
    att, q, keys, mask, _ = _setup("bahdanau", False, True, 7)
    ctx, w, _ = att.forward(q, keys, mask)
    for t in range(q.shape[1]):
        c1, w1, _ = att.forward(q[:, t], keys, mask)
        assert_close(f"context[t={t}]", c1, ctx[:, t], 1e-14)
        assert_close(f"weights[t={t}]", w1, w[:, t], 1e-14)


def test_param_shapes():
    assert Attention("dot", 4, 4).param_shapes() == {}
    assert Attention("general", 3, 5).param_shapes() == {"W_a": (3, 5)}
    assert Attention("bahdanau", 3, 5, attn_size=7).param_shapes() == {"W_q": (7, 3), "W_k": (7, 5), "v": (7,)}


@pytest.mark.parametrize("call,match", [
    (lambda a, q, k, m: a.forward(q[:, :2], k, m), r"query size"),
    (lambda a, q, k, m: a.forward(q[:2], k, m), r"query must have shape \(3, Q\)"),
    (lambda a, q, k, m: a.forward(q, k[0], m), r"keys must have 3 dimensions"),
    (lambda a, q, k, m: a.forward(q, k, m[:, :2]), r"mask must have shape \(3, 5\)"),
    (lambda a, q, k, m: a.forward(q, k, np.zeros_like(m)), r"mask row 0 has no valid source position"),
    (lambda a, q, k, m: a.forward(q.astype(np.float32), k, m), r"query has dtype float32"),
    (lambda a, q, k, m: attention_forward(q, k, m, a.params, "cosine"), r"attention kind must be one of"),
    (lambda a, q, k, m: Attention("dot", 3, 4), r"dot attention needs query size == key size"),
])
def test_bad_input(call, match):
    att, q, keys, mask, _ = _setup("general", True, True, 0)
    with pytest.raises(ValueError, match=match) as e:
        call(att, q, keys, mask)
    assert "\n" not in str(e.value)
