"""The CTC loss and its gradient: against torch.nn.functional.ctc_loss (float64) and finite differences."""
import numpy as np
import pytest

from rnnlab.gradcheck import check_grads
from rnnlab.losses import ctc_loss, ctc_loss_backward


def random_case(seed, B=4, T=12, C=6, blank=0, blank_heavy=False, repeats=False):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((B, T, C))
    if blank_heavy:
        logits[:, :, blank] += 4.0
    input_lengths = rng.integers(T // 2, T + 1, size=B)
    input_lengths[0] = T
    labels = [c for c in range(C) if c != blank]
    targets, lengths = [], []
    for b in range(B):
        L = int(rng.integers(0, input_lengths[b] // 2 + 1))
        seq = list(rng.choice(labels, size=L))
        if repeats and L >= 2:
            seq[1] = seq[0]                         # a repeated label needs a blank between
        targets.append(seq)
        lengths.append(L)
    padded = np.zeros((B, max(1, max(lengths))), dtype=np.int64)
    for b, s in enumerate(targets):
        padded[b, :len(s)] = s
    return logits, padded, input_lengths, np.array(lengths)


def torch_ctc(logits, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    torch = pytest.importorskip("torch")
    x = torch.tensor(logits, requires_grad=True)
    logp = torch.log_softmax(x, dim=-1).transpose(0, 1)                  # (T, B, C)
    loss = torch.nn.functional.ctc_loss(logp, torch.tensor(targets), torch.tensor(input_lengths),
                                        torch.tensor(target_lengths), blank=blank, reduction=reduction,
                                        zero_infinity=zero_infinity)
    loss.backward()
    return float(loss.detach()), x.grad.numpy()


CASES = [dict(seed=0), dict(seed=1, repeats=True), dict(seed=2, blank_heavy=True), dict(seed=3, B=1, T=1, C=3),
         dict(seed=4, B=6, T=20, C=11, repeats=True), dict(seed=5, blank=3, C=5), dict(seed=6, B=3, T=30, C=4)]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_torch(case, reduction, close):
    blank = case.get("blank", 0)
    logits, targets, il, tl = random_case(**case)
    loss, cache = ctc_loss(logits, targets, il, tl, blank=blank, reduction=reduction)
    want, dwant = torch_ctc(logits, targets, il, tl, blank=blank, reduction=reduction)
    close("loss", loss, want, 1e-8)
    close("dlogits", ctc_loss_backward(cache), dwant, 1e-8)


def test_repeated_labels_need_a_blank_between(close):
    # "aa" in 3 frames has one alignment (a, blank, a); in 2 frames none
    logits = np.log(np.full((1, 3, 2), 0.5))
    loss, _ = ctc_loss(logits, [[1, 1]], [3], [2], reduction="sum")
    close("loss", loss, -np.log(0.5 ** 3), 1e-12)
    with pytest.raises(ValueError, match="sequence 0 has 2 frames but its target of length 2 needs at least 3"):
        ctc_loss(logits, [[1, 1]], [2], [2])


def test_impossible_alignment_with_zero_infinity_matches_torch(close):
    logits, targets, il, tl = random_case(7, B=3, T=6, C=5)
    targets = np.array([[1, 2, 3, 4], [1, 1, 2, 2], [2, 0, 0, 0]])
    tl = np.array([4, 4, 1])
    il = np.array([3, 6, 6])                                    # sequence 0: 4 labels in 3 frames
    loss, cache = ctc_loss(logits, targets, il, tl, zero_infinity=True)
    dlogits = ctc_loss_backward(cache)
    want, dwant = torch_ctc(logits, targets, il, tl, zero_infinity=True)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    close("loss", loss, want, 1e-8)
    close("dlogits", dlogits, dwant, 1e-8)
    assert not dlogits[0].any()


def test_list_targets_and_float32():
    logits, targets, il, tl = random_case(8)
    seqs = [list(targets[b, :tl[b]]) for b in range(len(tl))]
    a, ca = ctc_loss(logits, seqs, il)
    b, cb = ctc_loss(logits, targets, il, tl)
    assert a == b
    l32, c32 = ctc_loss(logits.astype(np.float32), seqs, il)
    assert abs(l32 - a) < 1e-5 and ctc_loss_backward(c32).dtype == np.float32


@pytest.mark.parametrize("case", CASES[:5])
def test_matches_finite_differences(case):
    blank = case.get("blank", 0)
    logits, targets, il, tl = random_case(**case)
    _, cache = ctc_loss(logits, targets, il, tl, blank=blank)
    check_grads(lambda: ctc_loss(logits, targets, il, tl, blank=blank)[0], {"logits": logits},
                {"logits": ctc_loss_backward(cache)})


def test_bad_arguments():
    logits = np.zeros((2, 5, 4))
    with pytest.raises(ValueError, match="other than the blank"):
        ctc_loss(logits, [[1, 0], [2, 3]], [5, 5], [2, 2])
    with pytest.raises(ValueError, match="input_lengths must lie in 1..5"):
        ctc_loss(logits, [[1], [2]], [6, 5])
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(logits, [[1], [2]], reduction="none")
