"""Everyday use: logs that read well in a file, streaming predict, flags that say when they do nothing,
stable best-epoch choice, paths that work from any folder, no pickle, no traceback for anything."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n") * 20
LM = ["--hidden", "8", "--embed", "4", "--layers", "1", "--batch", "2", "--bptt", "8", "--epochs", "1"]


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


@pytest.fixture(scope="module")
def clf_run(tmp_path_factory):
    from rnnlab.cli import main

    d = tmp_path_factory.mktemp("clf")
    rows = ["text,label"] + [f"{'great fun' if i % 2 else 'dull mess'} movie,{'pos' if i % 2 else 'neg'}"
                             for i in range(40)]
    (d / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = str(d / "clf")
    assert main(["train", "classify", "--data", str(d / "reviews.csv"), "--hidden", "8", "--embed", "4",
                 "--epochs", "2", "--out", out, "--quiet"]) == 0
    return out


# ---------------------------------------------------------------------- logs
def test_logs_without_a_terminal_have_no_redraws_and_time_the_final_evaluation(corpus, tmp_path, capsys):
    rc, stdout, err = run_cli(["train", "charlm", "--data", corpus, "--out", str(tmp_path / "r")] + LM, capsys)
    assert rc == 0
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    epoch = [json.loads(x) for x in lines if x.startswith("{")]
    assert len(epoch) == 1 and epoch[0]["epoch"] == 1
    assert "final evaluation on the held-out splits ..." in lines
    assert any(x.startswith("final evaluation took ") and x.endswith(" s") for x in lines)


def test_eta_is_the_end_of_the_epoch_or_of_the_time_budget():
    from rnnlab.train.loop import TrainConfig, _ProgressLog

    log = _ProgressLog(10**9, 0, "epoch 1", TrainConfig(max_time=10.0, progress=False), 0.0)
    log.step(1.0, 100.0, 8.0)
    assert log._eta(8.0) == pytest.approx(2.0)           # a billion steps left, two seconds of budget
    log = _ProgressLog(2, 0, "epoch 1", TrainConfig(max_time=None, progress=False), 0.0)
    log.step(1.0, 100.0, 0.0)
    assert 0 < log._eta(0.0) < 60


# ---------------------------------------------------------------------- choosing the best epoch
def test_classify_ties_on_accuracy_go_to_the_lower_validation_loss(tmp_path, capsys, monkeypatch):
    from rnnlab.tasks.classify import ClassifyTask

    losses = iter([0.37, 0.2, 0.001])
    monkeypatch.setattr(ClassifyTask, "evaluate", lambda self, split="val": {"accuracy": 0.9, "loss": next(losses)})
    monkeypatch.setattr(ClassifyTask, "final_metrics", lambda self: {"accuracy": 0.9})
    rows = ["text,label"] + [f"w{i} movie,{'pos' if i % 2 else 'neg'}" for i in range(30)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    rc, stdout, err = run_cli(["train", "classify", "--data", str(tmp_path / "r.csv"), "--hidden", "4", "--embed", "4",
                               "--epochs", "3", "--patience", "0", "--quiet", "--out", str(tmp_path / "o")], capsys)
    assert rc == 0, err
    assert json.loads(stdout.splitlines()[-1])["best_epoch"] == 3


# ---------------------------------------------------------------------- paths and threads
def test_data_path_is_stored_absolute_and_evaluate_works_from_another_folder(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", "charlm", "--data", "corpus.txt", "--out", "r", "--quiet"] + LM, capsys)[0] == 0
    args = json.load(open(tmp_path / "r" / "args.json"))
    assert args["data"] == corpus and args["data_size"] == len(TEXT.encode())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    rc, stdout, err = run_cli(["evaluate", "../r"], capsys)
    assert rc == 0, err
    assert "test_bpc" in json.loads(stdout)


def test_threads_after_the_command_and_in_train_help(corpus, tmp_path, capsys):
    out = str(tmp_path / "r")
    assert run_cli(["train", "charlm", "--data", corpus, "--out", out, "--quiet", "--threads", "1"] + LM, capsys)[0] == 0
    assert run_cli(["generate", out, "--length", "5", "--threads", "1"], capsys)[0] == 0
    with pytest.raises(SystemExit):
        run_cli(["train", "-h"], capsys)
    help_text = capsys.readouterr().out
    for flag in ("--threads", "--overwrite", "--keep-resume", "--debug"):
        assert flag in help_text
    assert "(an integer >= 1" in help_text and "(a number > 0" in help_text


def test_default_threads_rule(monkeypatch):
    import argparse

    from rnnlab import tasks

    def args(hidden):
        return argparse.Namespace(command="train", task="charlm", resume=None, hidden=hidden)

    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert tasks.default_threads(args(256)) == 1 and tasks.default_threads(args(None)) == 1
    assert tasks.default_threads(args(512)) is None            # all cores on an idle machine
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    assert tasks.default_threads(args(1024)) == 1


# ---------------------------------------------------------------------- predict: unknown words, stdin
def test_predict_reports_unknown_words(clf_run, capsys):
    rc, stdout, _ = run_cli(["predict", clf_run, "great fun zyzzyva movie"], capsys)
    assert rc == 0 and json.loads(stdout)["unknown"] == ["zyzzyva"]


def test_predict_streams_stdin_utf8_with_crlf(clf_run):
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab.cli", "predict", clf_run], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write("\ufeffgreat fun movie\r\n".encode())
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())       # answered while stdin is still open
        assert first["text"] == "great fun movie"
        proc.stdin.write("dull mess café\r\n\r\n".encode())
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline())
        assert second["text"] == "dull mess café" and second["unknown"] == ["café"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0 and proc.stderr.read() == b""


def test_broken_pipe_into_head_is_quiet(clf_run):
    inputs = " ".join(f"movie{i}" for i in range(3000))
    r = subprocess.run(f"{sys.executable} -m rnnlab.cli predict {clf_run} {inputs} | head -n 1", shell=True,
                       capture_output=True, text=True, executable="/bin/bash")
    assert len(r.stdout.splitlines()) == 1 and r.stderr == ""


def test_tagger_splits_punctuation_off_unknown_words():
    from rnnlab.data.tokenize import Vocab
    from rnnlab.tasks.tag import tokenize

    vocab = Vocab(["<pad>", "<unk>", "I", "flew", "to", "Paris", "U.S."])
    assert tokenize("I flew to Paris.", False, vocab) == ["I", "flew", "to", "Paris", "."]
    assert tokenize("(Paris), U.S.", False, vocab) == ["(", "Paris", ")", ",", "U.S."]
    assert tokenize("...", False, vocab) == ["..."]


def test_tsv_header_and_tab_separated_csv_are_recognised(tmp_path):
    from rnnlab.data import read_labeled_csv, read_tsv_pairs

    (tmp_path / "p.tsv").write_text("source\ttarget\ncat\tgato\ndog\tperro\n")
    assert read_tsv_pairs(tmp_path / "p.tsv") == [("cat", "gato"), ("dog", "perro")]
    (tmp_path / "c.tsv").write_text("text\tlabel\ngood, fun\tpos\nbad\tneg\n")
    assert read_labeled_csv(tmp_path / "c.tsv") == [("good, fun", "pos"), ("bad", "neg")]


# ---------------------------------------------------------------------- failures: one line
def test_numpy_warnings_never_reach_the_terminal(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.tasks import charlm

    out = str(tmp_path / "r")
    assert run_cli(["train", "charlm", "--data", corpus, "--out", out, "--quiet"] + LM, capsys)[0] == 0
    generate = charlm.generate

    def noisy(*a):
        np.log(np.zeros(2))              # RuntimeWarning: divide by zero
        np.float32(1e38) * np.float32(10)   # RuntimeWarning: overflow
        return generate(*a)

    monkeypatch.setattr(charlm, "generate", noisy)
    rc, stdout, err = run_cli(["generate", out, "--length", "5"], capsys)
    assert rc == 0 and err == ""


def test_internal_error_is_one_line_with_debug_hint(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.tasks import charlm

    out = str(tmp_path / "r")
    assert run_cli(["train", "charlm", "--data", corpus, "--out", out, "--quiet"] + LM, capsys)[0] == 0
    monkeypatch.setattr(charlm, "generate", lambda *a: {}["missing"])
    rc, _, err = run_cli(["generate", out], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("rnnlab: error: internal error: KeyError") and "run with --debug for the traceback" in err
    with pytest.raises(KeyError):
        run_cli(["generate", out, "--debug"], capsys)
    monkeypatch.setenv("RNNLAB_DEBUG", "1")
    with pytest.raises(KeyError):
        run_cli(["generate", out], capsys)


def test_usage_errors_are_one_line(capsys):
    rc, _, err = run_cli(["train", "charlm", "--epochs"], capsys)
    assert_one_line_error(rc, err, "--epochs", "expected one argument")


# ---------------------------------------------------------------------- music: no pickle, no writes into the run
def test_music_generate_needs_output_and_reads_files_without_the_pickle_cache(tmp_path, capsys, monkeypatch):
    music21 = pytest.importorskip("music21")
    from test_music import synthetic_chorales

    data = tmp_path / "chorales.json"
    data.write_text(json.dumps(synthetic_chorales()))
    out = str(tmp_path / "run")
    assert run_cli(["train", "music", "--data", str(data), "--out", out, "--quiet", "--epochs", "1", "--hidden", "8",
                    "--batch", "4"], capsys)[0] == 0
    before = sorted(os.listdir(out))
    rc, _, err = run_cli(["generate", out, "--length", "4"], capsys)
    assert_one_line_error(rc, err, "--output")
    assert sorted(os.listdir(out)) == before

    def no_pickles(*a, **k):
        raise AssertionError("music21's pickle cache was used")

    monkeypatch.setattr(music21.converter, "thaw", no_pickles)
    monkeypatch.setattr(music21.freezeThaw.StreamFreezer, "write", no_pickles)
    midi = str(tmp_path / "a.mid")
    assert run_cli(["generate", out, "--length", "4", "--seed", "1", "--output", midi], capsys)[0] == 0
    for _ in range(2):      # the second read is where a cache would be loaded
        rc, _, err = run_cli(["generate", out, "--length", "4", "--prime", midi, "--output",
                              str(tmp_path / "b.mid")], capsys)
        assert rc == 0, err
    assert sorted(os.listdir(out)) == before
