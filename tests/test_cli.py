"""The rnnlab command end to end: training, prediction, the word-order demo, bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 40


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for _ in range(120):
        good = rng.random() < 0.5
        words = rng.choice(["great fun", "loved it", "superb"] if good else ["dull", "awful mess", "boring"], 2)
        rows.append(f"\"{' '.join(words)} movie\",{'pos' if good else 'neg'}")
    p = tmp_path / "reviews.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(p)


def test_charlm_train_generate_evaluate(text_file, tmp_path, capsys):
    out = str(tmp_path / "lm")
    rc, stdout, _ = run_cli(["train", "charlm", "--data", text_file, "--hidden", "32", "--embed", "8", "--layers", "1",
                             "--batch", "4", "--bptt", "16", "--epochs", "2", "--out", out, "--quiet"], capsys)
    assert rc == 0
    m = last_json(stdout)
    assert m["val_bpc"] < np.log2(30) and m["val_loss"] > 0
    assert json.load(open(os.path.join(out, "metrics.json")))["val_bpc"] == m["val_bpc"]
    assert len(open(os.path.join(out, "metrics.jsonl")).read().splitlines()) == 2
    rc, stdout, _ = run_cli(["generate", out, "--prime", "First", "--length", "50", "--seed", "3"], capsys)
    assert rc == 0 and stdout.startswith("First") and len(stdout.rstrip("\n")) == 55
    rc2, again, _ = run_cli(["generate", out, "--prime", "First", "--length", "50", "--seed", "3"], capsys)
    assert again == stdout
    rc, stdout, _ = run_cli(["generate", out, "--prime", "First", "--length", "20", "--temperature", "0"], capsys)
    assert rc == 0
    rc, stdout, _ = run_cli(["evaluate", out], capsys)
    assert rc == 0 and "test_bpc" in json.loads(stdout)


def test_classify_csv_predict_evaluate(csv_file, tmp_path, capsys):
    out = str(tmp_path / "clf")
    rc, stdout, _ = run_cli(["train", "classify", "--data", csv_file, "--cell", "gru", "--hidden", "16", "--embed", "8",
                             "--epochs", "8", "--lr", "0.01", "--out", out, "--quiet"], capsys)
    assert rc == 0
    m = last_json(stdout)
    assert m["accuracy"] >= 0.9 and 0 <= m["macro_f1"] <= 1
    rc, stdout, _ = run_cli(["predict", out, "superb great fun movie", "awful boring movie"], capsys)
    lines = [json.loads(x) for x in stdout.splitlines()]
    assert [x["label"] for x in lines] == ["pos", "neg"]
    assert abs(sum(lines[0]["probabilities"].values()) - 1) < 1e-3


def test_word_order_bag_at_chance_rnn_solves_it(tmp_path, capsys):
    """The article's opening point: a dense model over word vectors cannot tell who is stronger; an RNN can."""
    results = {}
    for cell in ("bag", "rnn"):
        out = str(tmp_path / cell)
        rc, stdout, _ = run_cli(["train", "classify", "--data", "order", "--cell", cell, "--hidden", "64", "--embed",
                                 "32", "--dropout", "0", "--epochs", "15", "--patience", "0", "--lr", "0.005",
                                 "--limit", "5000", "--out", out, "--quiet"], capsys)
        assert rc == 0
        results[cell] = last_json(stdout)["accuracy"]
        for pair in (["Bob is stronger than Tom", "Tom is stronger than Bob"], ["鲍勃比汤姆强壮", "汤姆比鲍勃强壮"]):
            rc, stdout, _ = run_cli(["predict", out] + pair, capsys)
            a, b = [json.loads(x) for x in stdout.splitlines()]
            if cell == "bag":   # same bag of words -> exactly the same prediction
                assert a["probabilities"] == b["probabilities"]
            else:               # Bob (alphabetically first) wins the first sentence, loses the second
                assert (a["label"], b["label"]) == ("A", "B"), pair
    assert results["bag"] < 0.6, results
    assert results["rnn"] > 0.97, results


# ---------------------------------------------------------------------- bad input: one line, exit code 2
def test_empty_and_non_utf8_files(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    rc, _, err = run_cli(["train", "charlm", "--data", str(empty), "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "empty.txt", "empty")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 ".encode("latin-1") * 50)
    rc, _, err = run_cli(["train", "charlm", "--data", str(bad), "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "latin1.txt", "UTF-8")


def test_csv_without_label_column(tmp_path, capsys):
    p = tmp_path / "nolabel.csv"
    p.write_text("text,sentiment\ngood,pos\nbad,neg\n", encoding="utf-8")
    rc, _, err = run_cli(["train", "classify", "--data", str(p), "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(rc, err, "nolabel.csv", "label")


def test_corrupt_and_truncated_checkpoints(csv_file, tmp_path, capsys):
    out = str(tmp_path / "clf")
    assert run_cli(["train", "classify", "--data", csv_file, "--hidden", "8", "--embed", "4", "--epochs", "1",
                    "--out", out, "--quiet"], capsys)[0] == 0
    path = os.path.join(out, "model.safetensors")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    rc, _, err = run_cli(["predict", out, "great movie"], capsys)
    assert_one_line_error(rc, err, "model.safetensors", "corrupt or truncated")
    open(path, "wb").write(b"")
    rc, _, err = run_cli(["predict", out, "great movie"], capsys)
    assert_one_line_error(rc, err, "model.safetensors", "empty")
    open(os.path.join(out, "config.json"), "w").write("{not json")
    rc, _, err = run_cli(["predict", out, "great movie"], capsys)
    assert_one_line_error(rc, err, "config.json", "corrupt")
    rc, _, err = run_cli(["predict", str(tmp_path / "nowhere"), "x"], capsys)
    assert_one_line_error(rc, err, "nowhere", "not a model directory")


def test_label_seen_only_at_predict_time(csv_file, tmp_path, capsys):
    out = str(tmp_path / "clf")
    assert run_cli(["train", "classify", "--data", csv_file, "--hidden", "8", "--embed", "4", "--epochs", "1",
                    "--out", out, "--quiet"], capsys)[0] == 0
    p = tmp_path / "new_label.csv"
    p.write_text("text,label\ngreat fun,pos\nso-so,neutral\n", encoding="utf-8")
    rc, _, err = run_cli(["evaluate", out, "--data", str(p)], capsys)
    assert_one_line_error(rc, err, "new_label.csv", "neutral", "never seen in training")


def test_unknown_task_and_flag(tmp_path, capsys):
    rc, _, err = run_cli(["train", "poetry"], capsys)
    assert_one_line_error(rc, err, "unknown task 'poetry'")
    rc, _, err = run_cli(["train", "charlm", "--pooling", "mean", "--data", "x"], capsys)
    assert_one_line_error(rc, err, "does not take --pooling")


def test_word_level_language_model(text_file, tmp_path, capsys):
    out = str(tmp_path / "wlm")
    rc, stdout, _ = run_cli(["train", "charlm", "--level", "word", "--data", text_file, "--hidden", "16", "--embed", "8",
                             "--layers", "1", "--batch", "2", "--bptt", "8", "--epochs", "2", "--out", out, "--quiet"],
                            capsys)
    assert rc == 0
    m = last_json(stdout)
    assert "val_ppl" in m and m["val_ppl"] > 1
    rc, stdout, _ = run_cli(["generate", out, "--prime", "First Citizen", "--length", "10", "--seed", "0"], capsys)
    assert rc == 0 and stdout.startswith("First Citizen")


def test_chinese_text_charlm_and_classify(tmp_path, capsys):
    text = tmp_path / "zh.txt"
    text.write_text("床前明月光，疑是地上霜。举头望明月，低头思故乡。\n" * 60, encoding="utf-8")
    out = str(tmp_path / "zh-lm")
    rc, stdout, _ = run_cli(["train", "charlm", "--data", str(text), "--hidden", "16", "--embed", "8", "--layers", "1",
                             "--batch", "2", "--bptt", "8", "--epochs", "2", "--out", out, "--quiet"], capsys)
    assert rc == 0
    rc, stdout, _ = run_cli(["generate", out, "--prime", "床前", "--length", "12", "--seed", "1"], capsys)
    assert rc == 0 and stdout.startswith("床前") and len(stdout.strip()) >= 14
    csv = tmp_path / "zh.csv"
    rows = ["text,label"] + [f"这部电影很好看{i},好" if i % 2 else f"这部电影很无聊{i},坏" for i in range(60)]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = str(tmp_path / "zh-clf")
    rc, stdout, _ = run_cli(["train", "classify", "--data", str(csv), "--hidden", "8", "--embed", "8", "--epochs", "6",
                             "--lr", "0.02", "--out", out, "--quiet"], capsys)
    assert rc == 0 and last_json(stdout)["accuracy"] >= 0.8
    rc, stdout, _ = run_cli(["predict", out, "很好看"], capsys)
    assert json.loads(stdout)["label"] == "好"


def test_predict_reads_stdin_one_json_line_per_input(csv_file, tmp_path, capsys):
    out = str(tmp_path / "clf")
    assert run_cli(["train", "classify", "--data", csv_file, "--hidden", "8", "--embed", "4", "--epochs", "1",
                    "--out", out, "--quiet"], capsys)[0] == 0
    r = subprocess.run([sys.executable, "-m", "rnnlab.cli", "predict", out], input="great fun movie\n\nboring movie\n",
                       capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["text"] for x in lines] == ["great fun movie", "boring movie"]
