"""Defaults that depend on the training set's size: small data gets one value, large another,
and a flag the user gives is always kept; the values used are recorded in OUT/args.json."""
import json
import os

import pytest

from conftest import run_cli
from rnnlab.tasks import charlm, tag
from rnnlab.tasks.base import fill_by_size

RULES = {"dropout": [(1000, 0.5), (10_000, 0.2), (None, 0.0)], "batch": [(None, 32)]}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.mark.parametrize("size, dropout", [(0, 0.5), (999, 0.5), (1000, 0.2), (9999, 0.2), (10_000, 0.0), (10**9, 0.0)])
def test_fill_by_size_picks_the_first_step_above_the_size(size, dropout):
    s = fill_by_size({"dropout": None, "batch": None, "lr": 1e-3}, size, RULES)
    assert s == {"dropout": dropout, "batch": 32, "lr": 1e-3}


def test_fill_by_size_keeps_what_the_user_gave():
    s = {"dropout": 0.0, "batch": 8}
    assert fill_by_size(s, 10, RULES) == {"dropout": 0.0, "batch": 8}


def test_charlm_dropout_by_corpus_size():
    assert charlm.DEFAULTS["dropout"] is None and charlm.DEFAULTS["cell"] == "gru"
    small, large = charlm.SIZED["dropout"][0][0] - 1, charlm.SIZED["dropout"][0][0]
    assert fill_by_size({"dropout": None}, small, charlm.SIZED) == {"dropout": 0.25}
    assert fill_by_size({"dropout": None}, large, charlm.SIZED) == {"dropout": 0.0}


@pytest.mark.parametrize("flag, want", [([], 0.25), (["--dropout", "0"], 0.0), (["--dropout", "0.4"], 0.4)])
def test_charlm_records_the_dropout_it_used(tmp_path, capsys, flag, want):
    text = tmp_path / "small.txt"
    text.write_text("to be or not to be, that is the question\n" * 60, encoding="utf-8")
    out = str(tmp_path / "lm")
    rc, _, err = run_cli(["train", "charlm", "--data", str(text), "--hidden", "8", "--embed", "4", "--batch", "2",
                          "--bptt", "8", "--epochs", "1", "--out", out, "--quiet", *flag], capsys)
    assert rc == 0, err
    settings = json.load(open(os.path.join(out, "args.json")))
    assert settings["dropout"] == want and settings["cell"] == "gru"
    assert json.load(open(os.path.join(out, "config.json")))["config"]["dropout"] == want


def test_tag_patience_by_training_sentences():
    assert tag.DEFAULTS["patience"] is None
    limit = tag.SIZED["patience"][0][0]
    assert fill_by_size({"patience": None}, limit - 1, tag.SIZED)["patience"] == 0       # time or --epochs ends it
    assert fill_by_size({"patience": None}, limit, tag.SIZED)["patience"] == 10


def test_tag_crf_by_training_sentences():
    assert tag.DEFAULTS["crf"] is None
    limit = tag.SIZED["crf"][0][0]
    assert fill_by_size({"crf": None}, limit - 1, tag.SIZED)["crf"] is False
    assert fill_by_size({"crf": None}, limit, tag.SIZED)["crf"] is True


@pytest.mark.parametrize("sentences, flag, want", [(40, [], False), (40, ["--crf"], True),
                                                   (1400, [], True), (1400, ["--no-crf"], False)])
def test_tag_crf_default_follows_the_file_size_and_a_flag_wins(tmp_path, capsys, sentences, flag, want):
    data = tmp_path / "ner.conll"
    data.write_text("".join(f"w{i} O\nCity{i % 7} B-LOC\n\n" for i in range(sentences)), encoding="utf-8")
    out = str(tmp_path / "tagger")
    rc, _, err = run_cli(["train", "tag", "--data", str(data), "--hidden", "4", "--embed", "4", "--char-embed", "0",
                          "--epochs", "1", "--out", out, "--quiet", *flag], capsys)
    assert rc == 0, err
    assert json.load(open(os.path.join(out, "args.json")))["crf"] is want
    assert json.load(open(os.path.join(out, "config.json")))["config"]["crf"] is want


@pytest.mark.parametrize("flag, want", [([], 0), (["--patience", "3"], 3)])
def test_tag_records_the_patience_it_used(tmp_path, capsys, flag, want):
    data = tmp_path / "ner.conll"
    data.write_text("".join(f"w{i} O\nCity{i % 7} B-LOC\n\n" for i in range(40)), encoding="utf-8")
    out = str(tmp_path / "tagger")
    rc, _, err = run_cli(["train", "tag", "--data", str(data), "--hidden", "4", "--embed", "4", "--char-embed", "0",
                          "--epochs", "1", "--out", out, "--quiet", *flag], capsys)
    assert rc == 0, err
    assert json.load(open(os.path.join(out, "args.json")))["patience"] == want


@pytest.mark.parametrize("flag, want", [([], True), (["--no-bidirectional"], False)])
def test_seq2seq_encoder_is_bidirectional_unless_turned_off(tmp_path, capsys, flag, want):
    data = tmp_path / "pairs.tsv"
    words = [f"{a}{b}{c}" for a in "abcd" for b in "abcd" for c in "abcd"]               # 64 distinct sources
    data.write_text("".join(f"{w}\t{w.upper()[::-1]}\n" for w in words), encoding="utf-8")
    out = str(tmp_path / "s2s")
    rc, _, err = run_cli(["train", "seq2seq", "--data", str(data), "--hidden", "4", "--embed", "4", "--epochs", "1",
                          "--out", out, "--quiet", *flag], capsys)
    assert rc == 0, err
    assert json.load(open(os.path.join(out, "args.json")))["bidirectional"] is want
    assert json.load(open(os.path.join(out, "config.json")))["config"]["bidirectional_encoder"] is want
