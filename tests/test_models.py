"""Whole-model gradients (language model, classifiers) by finite differences, and sampling."""
import numpy as np
import pytest

from rnnlab import check_grads
from rnnlab.models import (BagConfig, BagOfVectors, ClassifierConfig, LanguageModel, LanguageModelConfig,
                           SequenceClassifier)
from rnnlab.models.sampling import sample_token


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_language_model_grads(cell):
    m = LanguageModel(LanguageModelConfig(vocab_size=7, cell=cell, embed=4, hidden=5, layers=2, dropout=0.3,
                                          dtype="float64", seed=1))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 7, (3, 6)), rng.integers(0, 7, (3, 6))
    h0 = m.rnn.zero_state(3)
    h0 = tuple(s + 0.1 for s in h0) if isinstance(h0, tuple) else h0 + 0.1

    def run():
        return m.loss_and_grads(x, y, h0, training=True, rng=np.random.default_rng(5))

    check_grads(lambda: run()[0], m.params, run()[1])


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sequence_classifier_grads(pooling, bidirectional, cell):
    m = SequenceClassifier(ClassifierConfig(vocab_size=9, num_classes=3, cell=cell, embed=4, hidden=5, layers=2,
                                            bidirectional=bidirectional, pooling=pooling, dropout=0.25,
                                            dtype="float64", seed=2))
    rng = np.random.default_rng(1)
    ids, lengths, labels = rng.integers(1, 9, (4, 7)), np.array([7, 3, 5, 1]), rng.integers(0, 3, 4)
    ids[np.arange(7)[None, :] >= lengths[:, None]] = 0

    def run():
        return m.loss_and_grads(ids, lengths, labels, training=True, rng=np.random.default_rng(3))

    grads = run()[1]
    params = {k: v for k, v in m.params.items() if k != "embedding.weight"}
    check_grads(lambda: run()[0], params, grads)
    # the embedding's padding row gets a zero gradient on purpose (PyTorch's padding_idx): check the other rows
    emb = m.params["embedding.weight"]
    rows = emb[1:].copy()

    def loss_from_rows():
        emb[1:] = rows
        return run()[0]

    check_grads(loss_from_rows, {"embedding.weight[1:]": rows}, {"embedding.weight[1:]": grads["embedding.weight"][1:]})


def test_bag_of_vectors_grads_and_order_blindness():
    m = BagOfVectors(BagConfig(vocab_size=9, num_classes=2, embed=4, hidden=6, dropout=0.2, dtype="float64", seed=0))
    ids, lengths, labels = np.array([[1, 2, 3, 0], [4, 5, 6, 7]]), np.array([3, 4]), np.array([0, 1])

    def run():
        return m.loss_and_grads(ids, lengths, labels, training=True, rng=np.random.default_rng(3))

    grads = run()[1]
    check_grads(lambda: run()[0], {k: v for k, v in m.params.items() if k != "embedding.weight"}, grads)
    swapped = np.array([[3, 2, 1, 0], [7, 6, 5, 4]])
    np.testing.assert_allclose(m.predict_proba(ids, lengths), m.predict_proba(swapped, lengths), atol=1e-12)


def test_sampling():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 2.0, 1.0, -1.0])
    assert sample_token(logits, temperature=0) == 1
    draws = [sample_token(logits, top_k=1, rng=rng) for _ in range(20)]
    assert set(draws) == {1}
    draws = {sample_token(logits, top_k=2, rng=rng) for _ in range(200)}
    assert draws == {1, 2}
    draws = {sample_token(logits, top_p=0.5, rng=rng) for _ in range(200)}
    assert draws == {1}
    counts = np.bincount([sample_token(logits, temperature=1.0, rng=rng) for _ in range(4000)], minlength=4)
    p = np.exp(logits) / np.exp(logits).sum()
    assert np.all(np.abs(counts / 4000 - p) < 0.03)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_token(logits, temperature=-1)


def test_language_model_sample_is_seeded():
    m = LanguageModel(LanguageModelConfig(vocab_size=7, embed=4, hidden=5, layers=1))
    a = m.sample([1, 2], 10, seed=3)
    assert a == m.sample([1, 2], 10, seed=3) and len(a) == 10
    assert m.sample([1, 2], 10, temperature=0) == m.sample([1, 2], 10, temperature=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generation_steps_equal_forward(cell):
    """The fast generation path (projected-embedding table + engine steps) gives forward's logits."""
    m = LanguageModel(LanguageModelConfig(vocab_size=11, cell=cell, embed=5, hidden=7, layers=2, dtype="float64",
                                          seed=4))
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    logits, state, _ = m.forward(np.array([tokens[:2]]))
    steps = m.stepper()
    states = steps.split(state)
    for t in range(2, len(tokens)):
        fast, states = steps(tokens[t], states)
        ref, _, _ = m.forward(np.array([tokens[:t + 1]]))
        np.testing.assert_allclose(fast, ref[0, -1], atol=1e-12, err_msg=f"step {t}")
