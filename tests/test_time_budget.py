"""--max-time without --epochs trains until the budget is used; the final JSON says why training stopped."""
import json

import pytest

from conftest import run_cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n") * 12
TINY = ["--hidden", "8", "--embed", "4", "--layers", "1", "--batch", "2", "--bptt", "8", "--quiet"]
TICK = 1 / 64      # seconds per training step on the fake clock (exact in binary)


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


@pytest.fixture
def fake_clock(monkeypatch):
    """The trainer's clock advances by TICK in each training step and nowhere else."""
    from rnnlab.tasks.charlm import CharLMTask
    from rnnlab.train import loop

    now = [1000.0]

    class Clock:
        @staticmethod
        def monotonic():
            return now[0]

    step = CharLMTask.train_step

    def timed_step(self, *a):
        now[0] += TICK
        return step(self, *a)

    monkeypatch.setattr(loop, "time", Clock)
    monkeypatch.setattr(CharLMTask, "train_step", timed_step)
    return now


def train(args, tmp_path, capsys, name="run"):
    out = str(tmp_path / name)
    rc, stdout, err = run_cli(["train", "charlm"] + args + TINY + ["--out", out], capsys)
    assert rc == 0, err
    final = json.loads(stdout.strip().splitlines()[-1])
    history = [json.loads(x) for x in open(f"{out}/metrics.jsonl")]
    return final, history


def test_time_budget_without_epochs_trains_past_the_old_cap_and_stops_at_the_budget(corpus, tmp_path, capsys,
                                                                                     fake_clock):
    budget_steps = 600
    final, history = train(["--data", corpus, "--max-time", str(budget_steps * TICK), "--patience", "0",
                            "--lr-schedule", "none", "--limit", "600"], tmp_path, capsys)
    assert final["stop_reason"] == "time"
    assert final["epochs_run"] > 10, final          # the task's default epoch cap was 10
    # the step that reaches the budget is the last one: within one step of it
    assert final["steps"] == budget_steps
    assert final["train_seconds"] == pytest.approx(budget_steps * TICK, abs=0.01)
    assert history[-1]["partial_epoch"] and history[-1]["step"] == budget_steps
    assert json.load(open(tmp_path / "run" / "args.json"))["epochs"] is None


def test_stop_reason_epochs(corpus, tmp_path, capsys):
    final, history = train(["--data", corpus, "--epochs", "2", "--max-time", "3600", "--patience", "0"], tmp_path, capsys)
    assert final["stop_reason"] == "epochs" and final["epochs_run"] == 2
    assert final["steps"] == history[-1]["step"] > 0


def test_stop_reason_early_stopping(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.tasks.charlm import CharLMTask

    monkeypatch.setattr(CharLMTask, "evaluate", lambda self, split="val": {f"{split}_loss": 1.0})
    final, history = train(["--data", corpus, "--epochs", "50", "--patience", "2", "--lr-schedule", "none"],
                           tmp_path, capsys)
    assert final["stop_reason"] == "early_stopping" and final["epochs_run"] == 3 and len(history) == 3


def test_stop_reason_converged(corpus, tmp_path, capsys):
    # the step schedule halves the rate every epoch: below 1e-4 of the start after 14 epochs
    final, history = train(["--data", corpus, "--epochs", "100", "--patience", "0", "--lr-schedule", "step",
                            "--lr", "0.002", "--limit", "600"], tmp_path, capsys)
    assert final["stop_reason"] == "converged" and final["epochs_run"] == 14
    # the last epoch trained at 2e-3 / 2**13; the next would have been below 1e-4 of the start
    assert history[-1]["lr"] / 2 < 1e-4 * 2e-3 <= history[-1]["lr"]


def test_cosine_schedule_needs_epochs(corpus, tmp_path, capsys):
    from conftest import assert_one_line_error

    rc, _, err = run_cli(["train", "charlm", "--data", corpus, "--max-time", "5", "--lr-schedule", "cosine"] + TINY
                         + ["--out", str(tmp_path / "c")], capsys)
    assert_one_line_error(rc, err, "cosine", "--epochs")
