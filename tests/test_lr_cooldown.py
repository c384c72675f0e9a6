"""--lr-cooldown: over the last fraction of a --max-time budget the rate falls linearly to 0, step by step."""
import json

import pytest

from conftest import assert_one_line_error, run_cli
from test_time_budget import TICK, TINY, corpus, fake_clock, train  # noqa: F401  (fixtures)


@pytest.fixture
def step_lrs(monkeypatch):
    """The learning rate of every optimizer step, in order."""
    from rnnlab import optim

    seen = []
    step = optim.Optimizer.step

    def recording_step(self, grads):
        seen.append(self.lr)
        return step(self, grads)

    monkeypatch.setattr(optim.Optimizer, "step", recording_step)
    return seen


def test_the_last_fraction_of_the_budget_decays_the_rate_linearly_to_zero(corpus, tmp_path, capsys, fake_clock,
                                                                         step_lrs):
    budget, lr = 400, 0.004
    final, history = train(["--data", corpus, "--max-time", str(budget * TICK), "--lr-cooldown", "0.25",
                            "--lr", str(lr), "--patience", "0", "--lr-schedule", "none", "--limit", "600"],
                           tmp_path, capsys)
    assert final["stop_reason"] == "time" and final["steps"] == budget == len(step_lrs)
    # step k (from 1) sees the clock after k - 1 steps: budget - (k - 1) steps left, the tail is 100 steps
    want = [lr * min(1.0, (budget - k + 1) / 100) for k in range(1, budget + 1)]
    assert step_lrs == pytest.approx(want, rel=1e-12)
    assert step_lrs[300] == lr and step_lrs[-1] == pytest.approx(lr / 100)
    assert history[-1]["lr"] == pytest.approx(lr / 100)       # the epoch line shows the rate its last step used
    assert json.load(open(tmp_path / "run" / "args.json"))["lr_cooldown"] == 0.25


def test_the_epoch_schedule_works_on_the_rate_before_the_cooldown(corpus, tmp_path, capsys, fake_clock, step_lrs):
    # the step schedule halves the rate after every epoch; the cooldown multiplies whatever the schedule set,
    # and never feeds back into it (the plateau and step schedules read the optimizer's rate)
    budget, lr = 240, 0.004
    final, history = train(["--data", corpus, "--max-time", str(budget * TICK), "--lr-cooldown", "0.5",
                            "--lr", str(lr), "--patience", "0", "--lr-schedule", "step", "--limit", "600"],
                           tmp_path, capsys)
    per_epoch = [h["step"] for h in history]
    assert len(per_epoch) >= 3 and final["steps"] == budget
    k, want = 0, []
    for epoch, end in enumerate(per_epoch):
        while k < end:
            k += 1
            want.append(lr * 0.5 ** epoch * min(1.0, (budget - k + 1) / (budget / 2)))
    assert step_lrs == pytest.approx(want, rel=1e-12)


def test_no_cooldown_keeps_the_rate(corpus, tmp_path, capsys, fake_clock, step_lrs):
    final, _ = train(["--data", corpus, "--max-time", str(100 * TICK), "--lr-cooldown", "0", "--lr", "0.003",
                      "--patience", "0", "--lr-schedule", "none", "--limit", "600"], tmp_path, capsys)
    assert final["steps"] == 100 and set(step_lrs) == {0.003}


def test_a_run_that_ends_before_the_tail_is_not_affected(corpus, tmp_path, capsys, step_lrs):
    final, _ = train(["--data", corpus, "--epochs", "2", "--max-time", "3600", "--lr", "0.003", "--patience", "0",
                      "--lr-schedule", "none"], tmp_path, capsys)
    assert final["stop_reason"] == "epochs" and set(step_lrs) == {0.003}


@pytest.mark.parametrize("flags, fragments", [
    (["--lr-cooldown", "0.2"], ("--lr-cooldown", "--max-time")),
    (["--max-time", "5", "--lr-cooldown", "1"], ("--lr-cooldown", "< 1")),
    (["--max-time", "5", "--lr-cooldown", "-0.1"], ("--lr-cooldown", ">= 0")),
])
def test_cooldown_flag_errors(corpus, tmp_path, capsys, flags, fragments):
    rc, _, err = run_cli(["train", "charlm", "--data", corpus] + flags + TINY + ["--out", str(tmp_path / "c")], capsys)
    assert_one_line_error(rc, err, *fragments)
    assert not (tmp_path / "c").exists()


def test_trainer_refuses_a_cooldown_outside_0_1():
    from rnnlab.train.loop import Trainer, TrainConfig

    class Task:
        class model:
            params, frozen = {}, ()

    with pytest.raises(ValueError, match="lr_cooldown must be in"):
        Trainer(Task(), TrainConfig(max_time=10, lr_cooldown=1.5), "unused")


@pytest.mark.parametrize("schedule", ["step", "plateau", "none"])
def test_ctrl_c_in_the_cooldown_then_resume_continues_the_same_rates(corpus, tmp_path, capsys, fake_clock, step_lrs,
                                                                     monkeypatch, schedule):
    import os
    import signal

    from rnnlab.tasks.charlm import CharLMTask

    budget = 200
    flags = ["--data", corpus, "--max-time", str(budget * TICK), "--lr-cooldown", "0.5", "--patience", "0",
             "--lr-schedule", schedule, "--limit", "600", "--keep-resume"] + TINY
    assert run_cli(["train", "charlm", *flags, "--out", str(tmp_path / "full")], capsys)[0] == 0
    full = list(step_lrs)
    step_lrs.clear()
    step, calls = CharLMTask.train_step, [0]

    def press_ctrl_c_in_step_150(self, *a):
        calls[0] += 1
        if calls[0] == 150:                            # in the tail, after a few epochs of the step schedule
            os.kill(os.getpid(), signal.SIGINT)
        return step(self, *a)

    out = str(tmp_path / "run")
    with monkeypatch.context() as m:
        m.setattr(CharLMTask, "train_step", press_ctrl_c_in_step_150)
        rc, _, err = run_cli(["train", "charlm", *flags, "--out", out], capsys)
    assert rc == 130 and "resume with" in err and len(step_lrs) == 150
    assert run_cli(["train", "--resume", out], capsys)[0] == 0
    assert len(full) == budget and step_lrs == pytest.approx(full, rel=1e-12)
    assert full[150] < full[149] < full[0]               # the rates compared include cooled ones
