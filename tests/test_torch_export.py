"""`rnnlab export`: twin files that rebuild the twin, ONNX graphs checked with onnxruntime, bad input."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from rnnlab.models import (BagConfig, BagOfVectors, Captioner, CaptionerConfig, ClassifierConfig, LanguageModel,  # noqa: E402
                           DocVectorClassifier, DocVectorConfig, LanguageModelConfig, PianoRollConfig, PianoRollModel, Seq2Seq, Seq2SeqConfig,
                           SequenceClassifier, SequenceTagger, TaggerConfig)
from rnnlab.models.speech import SpeechConfig, SpeechRecognizer  # noqa: E402
from rnnlab.tasks.base import load_run  # noqa: E402
from rnnlab.torch import load  # noqa: E402
from rnnlab.torch.export import export_model  # noqa: E402

from conftest import assert_close, assert_one_line_error, run_cli  # noqa: E402
from helpers_torch import one_thread, run_without_torch, write_reviews  # noqa: E402,F401

def speech_recognizer(cell="gru", subsample=2, bidirectional=True):
    m = SpeechRecognizer(SpeechConfig(num_features=5, num_labels=6, cell=cell, hidden=4, layers=2,
                                      bidirectional=bidirectional, subsample=subsample))
    rng = np.random.default_rng(3)
    m.set_normalization(rng.normal(size=5), rng.uniform(0.5, 2.0, 5))
    return m


MODELS = {
    "lm-lstm": lambda: LanguageModel(LanguageModelConfig(vocab_size=11, cell="lstm", embed=5, hidden=6, layers=2)),
    "classifier-bi-last": lambda: SequenceClassifier(ClassifierConfig(vocab_size=13, num_classes=3, cell="lstm",
                                                                      embed=4, hidden=5, layers=2, bidirectional=True)),
    "classifier-mean": lambda: SequenceClassifier(ClassifierConfig(vocab_size=13, num_classes=3, cell="gru", embed=4,
                                                                   hidden=5, pooling="mean")),
    "bag": lambda: BagOfVectors(BagConfig(vocab_size=9, num_classes=4, embed=4, hidden=6)),
    "tagger-crf-chars": lambda: SequenceTagger(TaggerConfig(vocab_size=10, num_tags=5, char_vocab_size=8, char_embed=3,
                                                            embed=4, hidden=5, crf=True)),
    "seq2seq-bahdanau": lambda: Seq2Seq(Seq2SeqConfig(src_vocab=12, tgt_vocab=9, embed=4, hidden=5, layers=2,
                                                      bidirectional_encoder=True, attention="bahdanau")),
    "seq2seq-none": lambda: Seq2Seq(Seq2SeqConfig(src_vocab=12, tgt_vocab=9, cell="gru", embed=4, hidden=5,
                                                  attention="none")),
    "piano-roll": lambda: PianoRollModel(PianoRollConfig(pitches=7, cell="gru", hidden=5)),
    "captioner": lambda: Captioner(CaptionerConfig(feature_dim=6, vocab_size=10, embed=4, hidden=5, layers=2, pca=3)),
    "speech-gru-subsample2": speech_recognizer,
    "speech-lstm-unidirectional": lambda: speech_recognizer("lstm", 1, False),
    "doc-vectors": lambda: DocVectorClassifier(DocVectorConfig(num_classes=3, vector_size=6, vocab_size=5, hidden=4)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_graphs_equal_the_numpy_model(name, tmp_path):
    """Every graph, run by onnxruntime on a variable-length batch, equals the NumPy model to 1e-5 (float32)."""
    out = str(tmp_path / "model.onnx")
    summary = export_model(MODELS[name](), "onnx", out)
    assert summary["files"][0] == out and all(os.path.exists(f) for f in summary["files"])
    for f, diff in summary["max_abs_diff_vs_numpy"].items():
        assert diff is not None and diff <= 1e-5, (f, diff)
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in summary["files"])   # no temp files


def test_onnx_classifier_by_hand_with_batch_and_time_unlike_the_export(tmp_path):
    model = MODELS["classifier-bi-last"]()
    out = str(tmp_path / "clf.onnx")
    export_model(model, "onnx", out)
    rng = np.random.default_rng(7)
    lengths = np.array([2, 11, 5, 1, 8, 3, 11])
    ids = rng.integers(1, 13, (7, 11))
    ids[np.arange(11)[None, :] >= lengths[:, None]] = 0
    got = ort.InferenceSession(out).run(None, {"ids": ids, "lengths": lengths})[0]
    assert_close("logits", got, model.forward(ids, lengths)[0], 1e-5)


@pytest.mark.parametrize("subsample", [1, 3])
def test_onnx_speech_by_hand_with_batch_and_time_unlike_the_export(tmp_path, subsample):
    """Per-frame log-probabilities and output lengths, for time lengths that are and are not multiples of K."""
    model = speech_recognizer("rnn", subsample)
    out = str(tmp_path / "speech.onnx")
    export_model(model, "onnx", out)
    session = ort.InferenceSession(out)
    assert [i.name for i in session.get_inputs()] == ["frames", "lengths"]
    rng = np.random.default_rng(8)
    for B, T in ((1, 7), (6, 18), (3, 25)):
        lengths = rng.integers(1, T + 1, B)
        lengths[-1] = T
        frames = rng.standard_normal((B, T, 5)).astype(np.float32)
        logp, out_lengths = session.run(None, {"frames": frames, "lengths": lengths})
        want, want_lengths = model.log_probs(frames, lengths)
        assert logp.shape == (B, -(-T // subsample), 6)
        np.testing.assert_array_equal(out_lengths, want_lengths)
        assert_close(f"log_probs B={B} T={T}", logp, want, 1e-5)


def test_onnx_doc_vectors_by_hand_with_batch_unlike_the_export(tmp_path):
    """Document vectors in, class logits out, for any number of documents."""
    model = MODELS["doc-vectors"]()
    out = str(tmp_path / "doc.onnx")
    export_model(model, "onnx", out)
    session = ort.InferenceSession(out)
    assert [i.name for i in session.get_inputs()] == ["vectors"] and [o.name for o in session.get_outputs()] == ["logits"]
    rng = np.random.default_rng(9)
    for B in (1, 11):
        vectors = rng.standard_normal((B, 6)).astype(np.float32)
        got = session.run(None, {"vectors": vectors})[0]
        assert_close(f"logits B={B}", got, model.forward(vectors)[0], 1e-5)


def test_export_cli_torch_and_onnx(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert run_cli(["train", "classify", "--data", write_reviews(tmp_path, 40), "--hidden", "8", "--embed", "6",
                    "--epochs", "1", "--quiet", "--out", run], capsys)[0] == 0
    rc, stdout, err = run_cli(["export", run, "--format", "torch", "--out", str(tmp_path / "twin.safetensors")], capsys)
    assert rc == 0, err
    twin = load(str(tmp_path / "twin.safetensors"))
    _, model = load_run(run)
    for k, p in twin.state_dict().items():
        assert_close(k, p.numpy(), model.params[k], 0.0)
    ids, lengths = np.array([[3, 4, 5], [6, 0, 0]]), np.array([3, 1])
    with torch.no_grad():
        assert_close("logits", twin.eval()(ids, lengths).numpy(), model.forward(ids, lengths)[0], 1e-5)
    rc, stdout, err = run_cli(["export", run, "--format", "onnx", "--out", str(tmp_path / "m.onnx")], capsys)
    assert rc == 0, err
    assert json.loads(stdout)["files"] == [str(tmp_path / "m.onnx")]


def test_export_bad_input_writes_nothing(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert run_cli(["train", "classify", "--data", write_reviews(tmp_path, 40), "--hidden", "8", "--embed", "6",
                    "--epochs", "1", "--quiet", "--out", run], capsys)[0] == 0
    out = str(tmp_path / "out.onnx")
    rc, _, err = run_cli(["export", str(tmp_path / "nowhere"), "--format", "onnx", "--out", out], capsys)
    assert_one_line_error(rc, err, "nowhere", "not a model directory")
    weights = os.path.join(run, "model.safetensors")
    good = open(weights, "rb").read()
    open(weights, "wb").write(good[: len(good) // 2])
    for fmt in ("onnx", "torch"):
        rc, _, err = run_cli(["export", run, "--format", fmt, "--out", out], capsys)
        assert_one_line_error(rc, err, "model.safetensors", "corrupt or truncated")
    open(weights, "wb").write(good)
    config = os.path.join(run, "config.json")
    saved = open(config, "rb").read()
    os.unlink(config)
    rc, _, err = run_cli(["export", run, "--format", "torch", "--out", out], capsys)
    assert_one_line_error(rc, err, "config.json", "not found")
    open(config, "wb").write(saved)
    assert not os.path.exists(out)
    rc, _, err = run_cli(["export", run, "--format", "onnx", "--out", str(tmp_path / "no" / "dir.onnx")], capsys)
    assert_one_line_error(rc, err, "does not exist")
    r = run_without_torch(["export", run, "--format", "onnx", "--out", out])
    assert_one_line_error(r.returncode, r.stderr, "rnnlab export", "pip install 'rnnlab[torch]'")
    rc, _, err = run_cli(["export", run, "--format", "torch", "--out", str(tmp_path)], capsys)
    assert rc == 2
    with pytest.raises(Exception, match="not a twin file|corrupt"):
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"\x00" * 20)
        load(str(bad))
    assert sorted(os.listdir(tmp_path)) == sorted(["run", "reviews.csv", "bad.safetensors"])


def test_a_graph_that_disagrees_with_numpy_is_not_written(tmp_path, capsys, monkeypatch):
    from rnnlab.torch import export as export_mod

    run = str(tmp_path / "run")
    assert run_cli(["train", "classify", "--data", write_reviews(tmp_path, 40), "--hidden", "8", "--embed", "6",
                    "--epochs", "1", "--quiet", "--out", run], capsys)[0] == 0
    real = export_mod._classifier

    def off_by_one(model, twin):
        graphs = real(model, twin)
        reference = graphs[0].reference
        graphs[0].reference = lambda inp: [x + 1.0 for x in reference(inp)]
        return graphs

    monkeypatch.setitem(export_mod.GRAPHS, "SequenceClassifier", off_by_one)
    rc, _, err = run_cli(["export", run, "--format", "onnx", "--out", str(tmp_path / "m.onnx")], capsys)
    assert_one_line_error(rc, err, "m.onnx", "differs from the NumPy model by 1", "nothing was written")
    assert sorted(os.listdir(tmp_path)) == ["reviews.csv", "run"]
