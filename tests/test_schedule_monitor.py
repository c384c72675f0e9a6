"""The plateau schedule watches the validation loss where the task's monitored metric moves in steps
(classify's accuracy, g2p's word error rate): a flat accuracy on a small validation set no longer
halves the learning rate while the loss still falls, and a rising loss does, whatever the accuracy."""
import json

import pytest

from conftest import run_cli


@pytest.fixture
def reviews(tmp_path):
    p = tmp_path / "reviews.csv"
    p.write_text("text,label\n" + "".join(f"a {'good' if i % 2 else 'bad'} film number {i},{i % 2}\n"
                                          for i in range(60)), encoding="utf-8")
    return str(p)


def lrs(monkeypatch, tmp_path, capsys, data, losses, accuracies, task="classify", extra=()):
    from rnnlab.tasks.classify import ClassifyTask

    calls = iter(range(100))

    def evaluate(self, split_name="val"):
        i = min(next(calls), len(losses) - 1)          # the final evaluation reads the last values again
        return {"accuracy": accuracies[i], "loss": losses[i], "macro_f1": 0.5, "examples": 6}

    monkeypatch.setattr(ClassifyTask, "evaluate", evaluate)
    out = str(tmp_path / "run")
    rc, _, err = run_cli(["train", task, "--data", data, "--hidden", "4", "--embed", "4", "--epochs", str(len(losses) - 1),
                          "--patience", "0", "--lr", "0.01", "--out", out, "--quiet", *extra], capsys)
    assert rc == 0, err
    return [json.loads(x)["lr"] for x in open(f"{out}/metrics.jsonl")]


def test_flat_accuracy_with_a_falling_loss_keeps_the_rate(monkeypatch, tmp_path, capsys, reviews):
    got = lrs(monkeypatch, tmp_path, capsys, reviews, losses=[0.9, 0.8, 0.7, 0.6, 0.5] + [0.5],
              accuracies=[0.5] * 6)
    assert got == [0.01] * 5, got


def test_a_rising_loss_halves_the_rate_though_accuracy_improves(monkeypatch, tmp_path, capsys, reviews):
    got = lrs(monkeypatch, tmp_path, capsys, reviews, losses=[0.5, 0.6, 0.7, 0.8] + [0.8],
              accuracies=[0.5, 0.6, 0.7, 0.8] + [0.8])
    assert got == [0.01, 0.01, 0.005, 0.0025], got        # each epoch's lr is the one it trained with


def test_g2p_schedules_on_validation_loss_and_keeps_wer_for_the_best_model():
    from rnnlab.tasks import seq2seq
    from rnnlab.tasks.base import Task

    assert Task.schedule_monitor is None                      # other tasks: the monitored value itself
    from rnnlab.tasks.classify import ClassifyTask

    assert ClassifyTask.monitor == ("accuracy", "max") and ClassifyTask.schedule_monitor == ("loss", "min")
    task = seq2seq.build({**seq2seq.DEFAULTS, "data": "cmudict", "limit": 300, "seed": 0, "hidden": 4, "embed": 4})
    assert task.monitor == ("val_wer", "min") and task.schedule_monitor == ("val_loss", "min")


def test_lr_patience_waits_that_many_bad_epochs_before_halving(monkeypatch, tmp_path, capsys, reviews):
    losses = [0.5, 0.6, 0.6, 0.6, 0.4, 0.6, 0.6, 0.6] + [0.6]
    got = lrs(monkeypatch, tmp_path, capsys, reviews, losses=losses, accuracies=[0.5] * 9, extra=["--lr-patience", "2"])
    # bad epochs 2, 3, 4: the rate halves after the third (more than 2); epoch 5 improves, 6-8 are bad again
    assert got == [0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005], got
    args = json.load(open(tmp_path / "run" / "args.json"))
    assert args["lr_patience"] == 2


def test_lr_patience_without_the_plateau_schedule_is_refused(tmp_path, capsys, reviews):
    rc, _, err = run_cli(["train", "classify", "--data", reviews, "--lr-schedule", "none", "--lr-patience", "2",
                          "--epochs", "1", "--out", str(tmp_path / "r")], capsys)
    assert rc == 2 and "--lr-patience is for --lr-schedule plateau" in err and len(err.strip().splitlines()) == 1
