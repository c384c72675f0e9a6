"""Every model against its PyTorch twin in float64: loss, outputs and every parameter gradient to 1e-8.

PyTorch's autograd is the oracle for each model's hand-written backward. Batches are random,
with variable lengths, and the twin is built from the NumPy model by ``to_torch``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab.models import (BagConfig, BagOfVectors, Captioner, CaptionerConfig, ClassifierConfig, LanguageModel,  # noqa: E402
                           DocVectorClassifier, DocVectorConfig, LanguageModelConfig, PianoRollConfig, PianoRollModel, Seq2Seq, Seq2SeqConfig,
                           SequenceClassifier, SequenceTagger, TaggerConfig)
from rnnlab.models.speech import SpeechConfig, SpeechRecognizer  # noqa: E402
from rnnlab.models.tagger import make_batch  # noqa: E402
from rnnlab.torch import from_torch, load, save, to_torch  # noqa: E402

from conftest import assert_close  # noqa: E402
from helpers_torch import one_thread  # noqa: E402,F401

TOL = 1e-8


def check_twin(model, args, outputs=None, kwargs=None):
    """loss_and_grads(*args) against twin.loss(*args) + backward; outputs(model, twin) -> [(name, np, torch)]."""
    twin = to_torch(model)
    assert set(twin.state_dict()) == set(model.params)
    kwargs = kwargs or {}
    res = model.loss_and_grads(*args, training=True, rng=np.random.default_rng(0), **kwargs)
    loss, grads = res[0], res[1]
    t_loss, t_state = twin.loss(*args, **kwargs)
    t_loss.backward()
    assert_close("loss", t_loss.item(), loss, TOL)
    if len(res) == 3:
        for k, (a, b) in enumerate(zip(_parts(res[2]), _parts(t_state))):
            assert_close(f"final state[{k}]", b.numpy(), a, TOL)
    named = dict(twin.named_parameters())
    for name in model.params:
        if name in model.frozen:
            continue
        assert named[name].grad is not None, f"{name}: no gradient in the twin"
        assert_close(f"d{name}", named[name].grad.numpy(), grads[name], TOL)
    if outputs is not None:
        twin.eval()
        with torch.no_grad():
            for name, a, b in outputs(model, twin):
                assert_close(name, b.numpy(), a, TOL)
    back = from_torch(twin)
    for name, a in model.params.items():
        assert_close(f"from_torch {name}", back.params[name], a, 0.0)


def _parts(s):
    return s if isinstance(s, tuple) else (s,)


def ragged_ids(rng, V, lengths, low=1):
    T = int(max(lengths))
    ids = rng.integers(low, V, (len(lengths), T))
    ids[np.arange(T)[None, :] >= np.asarray(lengths)[:, None]] = 0
    return ids


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_language_model(cell):
    m = LanguageModel(LanguageModelConfig(vocab_size=11, cell=cell, embed=5, hidden=6, layers=2, dtype="float64", seed=1))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (3, 7)), rng.integers(0, 11, (3, 7))
    y[1, 4:] = -100                                              # ignored targets (padded melodies)
    s = m.rnn.zero_state(3)
    s = tuple(a + rng.normal(size=a.shape) for a in s) if isinstance(s, tuple) else s + rng.normal(size=s.shape)

    def outputs(m, twin):
        logits, state, _ = m.forward(x, s)
        t_logits, t_state = twin(x, s)
        return [("logits", logits, t_logits)] + [(f"state[{k}]", a, b) for k, (a, b) in
                                                  enumerate(zip(_parts(state), _parts(t_state)))]

    check_twin(m, (x, y, s), outputs)


@pytest.mark.parametrize("pooling,bidirectional,cell", [("last", False, "lstm"), ("last", True, "gru"),
                                                        ("mean", True, "lstm"), ("max", True, "rnn"),
                                                        ("max", False, "gru")])
def test_sequence_classifier(pooling, bidirectional, cell):
    m = SequenceClassifier(ClassifierConfig(vocab_size=13, num_classes=3, cell=cell, embed=4, hidden=5, layers=2,
                                            bidirectional=bidirectional, pooling=pooling, dtype="float64", seed=2))
    rng = np.random.default_rng(1)
    lengths = np.array([7, 3, 5, 1, 6])
    ids, labels = ragged_ids(rng, 13, lengths), rng.integers(0, 3, 5)
    check_twin(m, (ids, lengths, labels),
               lambda m, twin: [("logits", m.forward(ids, lengths)[0], twin(ids, lengths))])


def test_bag_of_vectors():
    m = BagOfVectors(BagConfig(vocab_size=9, num_classes=4, embed=4, hidden=6, dtype="float64", seed=0))
    rng = np.random.default_rng(2)
    lengths = np.array([4, 1, 3])
    ids, labels = ragged_ids(rng, 9, lengths), np.array([0, 3, 1])
    check_twin(m, (ids, lengths, labels),
               lambda m, twin: [("logits", m.forward(ids, lengths)[0], twin(ids, lengths))])


def doc_vector_classifier(dtype="float64"):
    m = DocVectorClassifier(DocVectorConfig(num_classes=3, vector_size=5, vocab_size=7, hidden=6, dtype=dtype, seed=1))
    rng = np.random.default_rng(4)
    for name in ("doc2vec.words", "doc2vec.output"):                       # frozen float32 arrays, as gensim's
        m.params[name][...] = rng.standard_normal(m.params[name].shape)
    return m


@pytest.mark.parametrize("lengths", [np.array([3, 1, 4, 2]), None])
def test_doc_vector_classifier(lengths):
    """The dense layers over given document vectors; the frozen Doc2Vec arrays get no gradient and come back as is."""
    m = doc_vector_classifier()
    rng = np.random.default_rng(3)
    vectors, labels = rng.standard_normal((4, 5)), np.array([2, 0, 1, 2])
    check_twin(m, (vectors, lengths, labels),
               lambda m, twin: [("logits", m.forward(vectors)[0], twin(vectors, lengths))])
    twin = to_torch(m)
    assert twin.dtype == torch.float64 and twin.doc2vec.words.dtype == torch.float32
    assert not any(p.requires_grad for p in twin.doc2vec.parameters())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_doc_vector_classifier_twin_file_round_trip(tmp_path, dtype):
    m = doc_vector_classifier(dtype)
    path = tmp_path / "twin.safetensors"
    save(to_torch(m), path)
    twin = load(path)
    assert type(twin).__name__ == "DocVectorClassifierTwin" and twin.config == m.config
    assert twin.hidden.weight.dtype == {"float32": torch.float32, "float64": torch.float64}[dtype]
    back = from_torch(twin)
    assert back.params["hidden.weight"].dtype == np.dtype(dtype)
    for name, a in m.params.items():
        assert_close(name, back.params[name], a, 0.0)
        assert back.params[name].dtype == a.dtype, name


@pytest.mark.parametrize("crf,char_embed,cell", [(False, 0, "lstm"), (True, 0, "gru"), (False, 3, "lstm"),
                                                 (True, 3, "rnn")])
def test_sequence_tagger(crf, char_embed, cell):
    m = SequenceTagger(TaggerConfig(vocab_size=10, num_tags=5, char_vocab_size=8 if char_embed else 0,
                                    char_embed=char_embed, cell=cell, embed=4, hidden=5, layers=2, crf=crf, seed=3),
                       dtype=np.float64)
    rng = np.random.default_rng(3)
    lens = [5, 2, 4]
    ids = [list(rng.integers(1, 10, n)) for n in lens]
    tags = [list(rng.integers(0, 5, n)) for n in lens]
    chars = [[list(rng.integers(1, 8, rng.integers(1, 5))) for _ in range(n)] for n in lens] if char_embed else None
    b = make_batch(ids, tags, chars)

    def outputs(m, twin):
        return [("scores", m.forward(b.ids, b.lengths, b.chars, b.char_lengths)[0],
                 twin(b.ids, b.lengths, b.chars, b.char_lengths))]

    check_twin(m, (b,), outputs)


@pytest.mark.parametrize("attention,score,bidir,cell", [("luong", "general", False, "lstm"),
                                                        ("luong", "dot", False, "gru"),
                                                        ("luong", "general", True, "lstm"),
                                                        ("bahdanau", "general", True, "gru"),
                                                        ("none", "general", True, "rnn")])
def test_seq2seq(attention, score, bidir, cell):
    m = Seq2Seq(Seq2SeqConfig(src_vocab=12, tgt_vocab=9, cell=cell, embed=4, hidden=5, layers=2,
                              bidirectional_encoder=bidir, attention=attention, luong_score=score,
                              dtype="float64", seed=4))
    rng = np.random.default_rng(4)
    src_lengths = np.array([6, 2, 4])
    src = ragged_ids(rng, 12, src_lengths)
    tgt = ragged_ids(rng, 9, [5, 3, 1])
    tgt_in, tgt_out = tgt.copy(), np.roll(tgt, -1, axis=1)

    def outputs(m, twin):
        logits, weights, _ = m.forward(src, src_lengths, tgt_in)
        t_logits, t_weights = twin(src, src_lengths, tgt_in)
        return [("logits", logits, t_logits)] + ([] if weights is None else [("attention", weights, t_weights)])

    check_twin(m, (src, src_lengths, tgt_in, tgt_out), outputs)


@pytest.mark.parametrize("cell,lengths", [("lstm", [6, 3, 1]), ("gru", None), ("rnn", [2, 6, 5])])
def test_piano_roll_model(cell, lengths):
    m = PianoRollModel(PianoRollConfig(pitches=7, cell=cell, hidden=5, layers=2, dtype="float64", seed=5))
    rng = np.random.default_rng(5)
    frames = (rng.random((3, 6, 7)) < 0.3).astype(np.float64)
    lengths = None if lengths is None else np.array(lengths)
    x = rng.normal(size=(3, 6, 7))

    def outputs(m, twin):
        logits, state, _ = m.forward(x, lengths=lengths)
        t_logits, t_state = twin(x, lengths=lengths)
        return [("logits", logits, t_logits)] + [(f"state[{k}]", a, b) for k, (a, b) in
                                                  enumerate(zip(_parts(state), _parts(t_state)))]

    check_twin(m, (frames, lengths), outputs)


@pytest.mark.parametrize("cell,init,pca", [("lstm", "both", 4), ("gru", "state", 0), ("rnn", "input", 3)])
def test_captioner(cell, init, pca):
    m = Captioner(CaptionerConfig(feature_dim=6, vocab_size=10, cell=cell, embed=4, hidden=5, layers=2, init=init,
                                  pca=pca, dtype="float64", seed=6))
    rng = np.random.default_rng(6)
    if pca:
        m.set_projection(rng.normal(size=6), rng.normal(size=(pca, 6)))
    feats = rng.normal(size=(3, 6))
    tgt = ragged_ids(rng, 10, [4, 2, 3], low=4)
    tgt_in, tgt_out = np.concatenate([np.full((3, 1), 2), tgt[:, :-1]], axis=1), tgt
    check_twin(m, (feats, tgt_in, tgt_out),
               lambda m, twin: [("logits", m.forward(feats, tgt_in)[0], twin(feats, tgt_in))])


def speech_recognizer(cell="lstm", subsample=1, bidirectional=True):
    m = SpeechRecognizer(SpeechConfig(num_features=4, num_labels=5, cell=cell, hidden=5, layers=2,
                                      bidirectional=bidirectional, subsample=subsample, dtype="float64", seed=7))
    rng = np.random.default_rng(7)
    m.set_normalization(rng.normal(size=4), rng.uniform(0.5, 2.0, 4))
    frames = rng.normal(size=(4, 10, 4))                    # values past each length too: they must not count
    return m, frames


@pytest.mark.parametrize("cell,subsample,bidirectional", [("rnn", 1, True), ("lstm", 1, True), ("gru", 1, True),
                                                          ("rnn", 2, True), ("lstm", 2, True), ("gru", 2, True),
                                                          ("lstm", 3, False)])
def test_speech_recognizer(cell, subsample, bidirectional):
    m, frames = speech_recognizer(cell, subsample, bidirectional)
    lengths = np.array([10, 4, 7, 1])                       # with subsample 3 (or 2, at 7 and 1) the last step is part padding
    targets = [[1, 2, 2], [3], [4, 1], []]                  # a repeated label needs a blank between; an empty one

    def outputs(m, twin):
        logits, out_lengths, _ = m.forward(frames, lengths)
        t_logits, t_lengths = twin(frames, lengths)
        logp, _ = m.log_probs(frames, lengths)
        np.testing.assert_array_equal(t_lengths.numpy(), out_lengths)
        return [("logits", logits, t_logits), ("log_probs", logp, twin.log_probs(frames, lengths)[0])]

    check_twin(m, (frames, lengths, targets), outputs)


def test_speech_recognizer_impossible_alignment():
    """A transcript longer than its output frames: the same error from both engines, or 0 with zero_infinity."""
    m, frames = speech_recognizer(subsample=2)
    lengths, targets = np.array([9, 3]), [[1, 2], [3, 3]]   # 2 output frames cannot emit 3, blank, 3
    twin = to_torch(m)
    for loss in (m.loss_and_grads, twin.loss):
        with pytest.raises(ValueError, match="sequence 1 has 2 frames but its target of length 2 needs at least 3"):
            loss(frames[:2], lengths, targets)
    check_twin(m, (frames[:2], lengths, targets), kwargs={"zero_infinity": True})


def test_save_load_round_trip_and_unknown_model(tmp_path):
    m = Seq2Seq(Seq2SeqConfig(src_vocab=7, tgt_vocab=6, embed=3, hidden=4, bidirectional_encoder=True, seed=1))
    path = tmp_path / "twin.safetensors"
    save(to_torch(m), path)
    twin = load(path)
    assert type(twin).__name__ == "Seq2SeqTwin" and twin.config == m.config
    for name, p in twin.state_dict().items():
        assert_close(name, p.numpy(), m.params[name], 0.0)

    class Other:
        params, config = {}, None
    with pytest.raises(ValueError, match="no PyTorch twin for Other"):
        to_torch(Other())


def test_every_model_has_a_twin_and_an_onnx_graph():
    from rnnlab.models import MODELS
    from rnnlab.torch import TWINS
    from rnnlab.torch.export import GRAPHS

    assert sorted(TWINS) == sorted(MODELS)
    assert sorted(GRAPHS) == sorted(MODELS)
    assert all(TWINS[name].numpy_class == name for name in MODELS)
