"""classify's word dropout: training words become <unk> at the given rate, padding never does, held-out text never."""
import json

import numpy as np
import pytest

from rnnlab.tasks import COMMON
from rnnlab.tasks.classify import DEFAULTS, ClassifyTask

from conftest import assert_one_line_error, run_cli

TEXTS = [(f"the film number {i} was {'very good' if i % 2 else 'quite bad'} and {'long' * (i % 3 + 1)}",
          "pos" if i % 2 else "neg") for i in range(200)]


def task(word_dropout):
    return ClassifyTask(TEXTS, {**COMMON, **DEFAULTS, "task": "classify", "data": "x.csv", "word_dropout": word_dropout})


def batch_seen_by_model(t, idx, seed=0):
    seen = {}

    def loss_and_grads(x, lengths, labels, training, rng):
        seen["x"], seen["lengths"] = x, lengths
        return 0.0, {}

    t.model.loss_and_grads = loss_and_grads
    t.train_step(idx, None, np.random.default_rng(seed))
    return seen["x"], seen["lengths"]


def test_training_words_become_unk_at_the_rate_and_padding_stays():
    idx = np.arange(160)
    t0, t1 = task(0.0), task(0.3)
    x0, lengths = batch_seen_by_model(t0, idx)
    x1, _ = batch_seen_by_model(t1, idx)
    unk = t0.vocab.unk_id
    words = np.arange(x0.shape[1])[None, :] < lengths[:, None]
    assert (x0[words] > unk).all() and (x0[~words] == 0).all()          # no <unk> without it; 0 is padding
    dropped = x1 != x0
    assert (x1[dropped] == unk).all() and not dropped[~words].any()
    assert abs(dropped[words].mean() - 0.3) < 0.03                       # ~1,900 words
    assert task(0.3).evaluate("val") is not None                         # evaluation reads the ids unchanged
    assert np.array_equal(t1.splits["val"][0][0], t0.splits["val"][0][0])


def test_flag_default_range_and_other_tasks(tmp_path, capsys):
    assert DEFAULTS["word_dropout"] == 0.1
    data = tmp_path / "r.csv"
    data.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in TEXTS[:60]), encoding="utf-8")
    out = tmp_path / "run"
    rc, stdout, err = run_cli(["train", "classify", "--data", str(data), "--epochs", "1", "--hidden", "4", "--embed", "4",
                               "--word-dropout", "0.25", "--quiet", "--out", str(out)], capsys)
    assert rc == 0, err
    assert json.load(open(out / "args.json"))["word_dropout"] == 0.25
    rc, _, err = run_cli(["train", "classify", "--data", str(data), "--word-dropout", "1", "--out", str(tmp_path / "b")],
                         capsys)
    assert_one_line_error(rc, err, "--word-dropout")
    rc, _, err = run_cli(["train", "charlm", "--data", str(data), "--word-dropout", "0.1", "--out", str(tmp_path / "c")],
                         capsys)
    assert_one_line_error(rc, err, "word-dropout")


@pytest.mark.parametrize("saved", [{}, {"word_dropout": None}])
def test_runs_saved_before_the_option_train_without_it(saved):
    s = {**COMMON, **DEFAULTS, "task": "classify", "data": "x.csv"}
    del s["word_dropout"]
    assert ClassifyTask(TEXTS, {**s, **saved}).word_dropout == 0.0


def test_draws_depend_on_the_batch_and_epoch_not_on_the_trainers_generator():
    """The torch backend and torchrun ranks use the trainer's generator differently: the masks must not follow it."""
    t = task(0.3)
    idx = np.arange(40, 80)
    t.train_batches(3)
    a, _ = batch_seen_by_model(t, idx, seed=0)
    b, _ = batch_seen_by_model(t, idx, seed=123)
    assert np.array_equal(a, b)
    t.train_batches(4)
    c, _ = batch_seen_by_model(t, idx, seed=0)
    assert not np.array_equal(a, c)
