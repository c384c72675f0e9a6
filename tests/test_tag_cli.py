"""`rnnlab train tag` end to end on tiny CoNLL files: training, predict, evaluate, bad input."""
import json
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

PEOPLE = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Mary Ann"]
PLACES = ["Paris", "Berlin", "Rome", "Oslo", "New York", "San Francisco", "Hong Kong", "Buenos Aires"]
VERBS = ["flew to", "moved to", "lives in", "visited"]


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """The matrices here are tiny: BLAS threads only spin against each other (and against any
    other job on the machine), which made these tests 10-25x slower on a busy 2-core box."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def ner_sentences(n, seed=0):
    """'[Yesterday ,] PERSON VERB PLACE [today] .' with BIO tags over PER and LOC."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = [("Yesterday", "O"), (",", "O")] if rng.random() < 0.5 else []
        words += [(PEOPLE[rng.integers(len(PEOPLE))], "PER")]
        words += [(w, "O") for w in VERBS[rng.integers(len(VERBS))].split()]
        words += [(PLACES[rng.integers(len(PLACES))], "LOC")]
        words += [("today", "O")] if rng.random() < 0.5 else []
        tokens, tags = [], []
        for text, kind in words + [(".", "O")]:
            for k, tok in enumerate(text.split()):
                tokens.append(tok)
                tags.append("O" if kind == "O" else ("B-" if k == 0 else "I-") + kind)
        out.append((tokens, tags))
    return out


def write_conll(path, sentences):
    path.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(*s)) for s in sentences) + "\n",
                    encoding="utf-8")
    return str(path)


@pytest.fixture
def ner_file(tmp_path):
    return write_conll(tmp_path / "ner.conll", ner_sentences(300))


@pytest.mark.parametrize("crf", [False, True])
def test_ner_train_predict_evaluate(ner_file, tmp_path, capsys, crf):
    out = str(tmp_path / ("crf" if crf else "softmax"))
    args = ["train", "tag", "--data", ner_file, "--hidden", "16", "--embed", "16", "--epochs", "6", "--lr", "0.02",
            "--dropout", "0", "--batch", "16", "--out", out, "--quiet"] + (["--crf"] if crf else [])
    rc, stdout, _ = run_cli(args, capsys)
    assert rc == 0
    m = json.loads(stdout.strip().splitlines()[-1])
    assert m["f1"] >= 0.95 and m["val_f1"] >= 0.95, m
    assert {"precision", "recall", "accuracy", "val_precision", "sentences", "tokens"} <= set(m)
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["model"] == "SequenceTagger" and config["config"]["crf"] is crf
    assert config["labels"] == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert config["config"]["char_embed"] == 25 and config["chars"]        # word-level data: spelling features

    rc, stdout, _ = run_cli(["predict", out, "Bob flew to New York today .", "Yesterday , Mary Ann visited Oslo ."],
                            capsys)
    assert rc == 0
    a, b = [json.loads(line) for line in stdout.splitlines()]
    assert a["tokens"] == ["Bob", "flew", "to", "New", "York", "today", "."]
    assert a["tags"] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O", "O"]
    assert a["entities"] == [{"text": "Bob", "type": "PER", "start": 0, "end": 1},
                             {"text": "New York", "type": "LOC", "start": 3, "end": 5}]
    assert [(e["text"], e["type"]) for e in b["entities"]] == [("Mary Ann", "PER"), ("Oslo", "LOC")]

    rc, stdout, _ = run_cli(["evaluate", out], capsys)
    assert rc == 0
    ev = json.loads(stdout)
    assert ev["f1"] == m["f1"] and ev["sentences"] == m["sentences"]


def test_pos_tags_score_accuracy_and_chinese_is_read_per_character(tmp_path, capsys):
    rng = np.random.default_rng(1)
    nouns, verbs = list("猫狗鸟鱼牛马羊"), list("吃看跑叫")
    sents = []
    for _ in range(200):
        toks = [nouns[rng.integers(7)], verbs[rng.integers(4)], nouns[rng.integers(7)]]
        sents.append((toks, ["NOUN", "VERB", "NOUN"]))
    data = write_conll(tmp_path / "pos.conll", sents)
    out = str(tmp_path / "pos")
    rc, stdout, _ = run_cli(["train", "tag", "--data", data, "--hidden", "8", "--embed", "8", "--epochs", "4", "--batch", "8",
                             "--lr", "0.02", "--out", out, "--quiet"], capsys)
    assert rc == 0
    m = json.loads(stdout.strip().splitlines()[-1])
    assert "f1" not in m and m["accuracy"] > 0.95, m
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["char_level"] and config["config"]["char_embed"] == 0 and config["chars"] is None
    rc, stdout, _ = run_cli(["predict", out, "狗 看猫"], capsys)
    got = json.loads(stdout)
    assert got == {"tokens": ["狗", "看", "猫"], "tags": ["NOUN", "VERB", "NOUN"], "unknown": []}


def test_ragged_conll_line_is_one_line_error(tmp_path, capsys):
    p = tmp_path / "ragged.conll"
    p.write_text("Bob B-PER\nflew O\nto O extra\nParis B-LOC\n", encoding="utf-8")
    rc, _, err = run_cli(["train", "tag", "--data", str(p), "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "ragged.conll:3", "3 columns")


def test_other_bad_input(ner_file, tmp_path, capsys):
    rc, _, err = run_cli(["train", "tag", "--data", "rotten_tomatoes", "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "classify dataset", "peoples_daily")
    few = write_conll(tmp_path / "few.conll", ner_sentences(40)[:5])
    rc, _, err = run_cli(["train", "tag", "--data", few, "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "at least 10 distinct sentences")
    rc, _, err = run_cli(["train", "tag", "--data", ner_file, "--pooling", "mean"], capsys)
    assert_one_line_error(rc, err, "does not take --pooling")

    out = str(tmp_path / "m")
    assert run_cli(["train", "tag", "--data", ner_file, "--hidden", "4", "--embed", "4", "--epochs", "1",
                    "--out", out, "--quiet"], capsys)[0] == 0
    other = write_conll(tmp_path / "other.conll", [(["Acme", "rocks"], ["B-ORG", "O"])])
    rc, _, err = run_cli(["evaluate", out, "--data", other], capsys)
    assert_one_line_error(rc, err, "other.conll", "B-ORG", "never seen in training")
