"""Doc2Vec document vectors as the input of the dense baseline (`classify --cell bag --pretrained doc2vec`)."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from rnnlab.data.doc2vec import doc2vec_arrays, infer_vectors, rebuild_doc2vec, train_doc2vec
from rnnlab.gradcheck import check_grads
from rnnlab.models import DocVectorClassifier, DocVectorConfig

pytest.importorskip("gensim")


def small_model(dropout=0.0):
    return DocVectorClassifier(DocVectorConfig(num_classes=3, vector_size=5, vocab_size=4, hidden=6, dropout=dropout,
                                               dtype="float64", seed=0))


def test_grads_match_torch_and_finite_differences(close):
    torch = pytest.importorskip("torch")
    m = small_model()
    v, y = np.random.default_rng(0).standard_normal((7, 5)), np.array([0, 2, 1, 1, 0, 2, 2])
    loss, grads = m.loss_and_grads(v, None, y)
    assert set(grads) == {"hidden.weight", "hidden.bias", "head.weight", "head.bias"}
    trained = {k: p for k, p in m.params.items() if k not in m.frozen}
    check_grads(lambda: m.loss_and_grads(v, None, y)[0], trained, grads)
    P = {k: torch.tensor(p, requires_grad=True) for k, p in trained.items()}
    h = torch.tanh(torch.nn.functional.linear(torch.tensor(v), P["hidden.weight"], P["hidden.bias"]))
    t_loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, P["head.weight"], P["head.bias"]),
                                               torch.tensor(y))
    t_loss.backward()
    close("loss", loss, t_loss.item(), 1e-12)
    for k, p in P.items():
        close(k, grads[k], p.grad.numpy(), 1e-10)


def test_rebuilt_model_infers_the_same_vectors(close):
    texts = [s.split() for s in ["a good film", "a bad film", "good acting", "bad acting and a bad plot"] * 5]
    d2v = train_doc2vec(texts, dim=8, seed=0)
    arrays, words, counts = doc2vec_arrays(d2v)
    new = [["a", "good", "plot"], ["unseen", "words", "bad"]]
    first = infer_vectors(d2v, new)
    close("again", infer_vectors(d2v, new), first, 0.0)
    close("rebuilt", infer_vectors(rebuild_doc2vec(arrays, words, counts), new), first, 0.0)
    assert first.shape == (2, 8) and np.abs(first).sum() > 0


def test_train_predict_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = run_cli(["--threads", "1", "train", "classify", "--data", "order", "--limit", "400", "--cell",
                               "bag", "--pretrained", "doc2vec", "--embed", "16", "--hidden", "8", "--epochs", "2",
                               "--out", str(out), "--quiet"], capsys)
    assert rc == 0, err
    m = json.loads(stdout.strip().splitlines()[-1])
    run = json.loads((out / "config.json").read_text())
    assert run["model"] == "DocVectorClassifier" and len(run["doc2vec"]["words"]) == run["config"]["vocab_size"]
    rc, stdout, err = run_cli(["evaluate", str(out)], capsys)
    assert rc == 0, err
    assert json.loads(stdout)["loss"] == m["loss"]         # held-out vectors inferred again, identically
    rc, stdout, err = run_cli(["predict", str(out), "Bob is stronger than Tom"], capsys)
    assert rc == 0 and json.loads(stdout)["label"] in ("A", "B")


def test_doc2vec_needs_the_dense_baseline(tmp_path, capsys):
    rc, _, err = run_cli(["train", "classify", "--data", "order", "--limit", "100", "--cell", "lstm",
                          "--pretrained", "doc2vec", "--out", str(tmp_path / "r")], capsys)
    assert_one_line_error(rc, err, "--pretrained doc2vec", "--cell bag")
