"""Nothing is lost: earlier runs, checkpoints on a full or read-only disk, kills at any moment, corrupted weights."""
import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 12
TINY = ["--hidden", "8", "--embed", "4", "--layers", "1", "--batch", "2", "--bptt", "8", "--quiet"]


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


def train(corpus, out, capsys, *extra):
    return run_cli(["train", "charlm", "--data", corpus, "--out", out, "--epochs", "1"] + TINY + list(extra), capsys)


def files(out):
    return {f: open(os.path.join(out, f), "rb").read() for f in sorted(os.listdir(out))
            if os.path.isfile(os.path.join(out, f))}


# ---------------------------------------------------------------------- an earlier run
def test_a_directory_holding_a_run_is_refused(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, capsys)[0] == 0
    before = files(out)
    rc, _, err = train(corpus, out, capsys, "--lr", "0.01")
    assert_one_line_error(rc, err, out, "already holds a run", "--overwrite", f"--resume {out}", f"{out}-2")
    assert files(out) == before


def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_model(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.train.loop import Trainer

    out = str(tmp_path / "run")
    assert train(corpus, out, capsys)[0] == 0
    before = files(out)

    def fail(self, metrics):
        assert sorted(os.listdir(os.path.join(out, ".previous-run"))) == sorted(before)
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(out, "model.safetensors"))

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_end_epoch", fail)
        rc, _, err = train(corpus, out, capsys, "--overwrite", "--hidden", "6")
    assert_one_line_error(rc, err, "model.safetensors", "No space left")
    assert files(out) == before and not os.path.exists(os.path.join(out, ".previous-run"))
    assert run_cli(["generate", out, "--length", "5"], capsys)[0] == 0

    rc, _, err = train(corpus, out, capsys, "--overwrite", "--hidden", "6")
    assert rc == 0, err
    assert json.load(open(os.path.join(out, "config.json")))["config"]["hidden"] == 6
    assert not os.path.exists(os.path.join(out, ".previous-run"))


def test_resume_checkpoint_removed_at_a_clean_finish_unless_kept(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, capsys)[0] == 0
    assert not os.path.exists(os.path.join(out, "resume.safetensors"))
    rc, _, err = run_cli(["train", "--resume", out], capsys)
    assert_one_line_error(rc, err, "nothing to resume", "the run finished")
    kept = str(tmp_path / "kept")
    assert train(corpus, kept, capsys, "--keep-resume")[0] == 0
    assert os.path.exists(os.path.join(kept, "resume.safetensors"))


# ---------------------------------------------------------------------- full disk, read-only folder
def test_full_disk_is_one_line_and_the_earlier_checkpoint_survives(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.train import checkpoint

    out = str(tmp_path / "run")
    real_fsync, calls = os.fsync, [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] > 6:          # config, args, metrics.jsonl, config, step-0 resume ... then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    rc, _, err = run_cli(["train", "charlm", "--data", corpus, "--out", out, "--epochs", "2", "--save-every", "0"]
                         + TINY, capsys)
    monkeypatch.setattr(checkpoint.os, "fsync", real_fsync)
    assert_one_line_error(rc, err, out, "No space left on device")
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    arrays, meta = checkpoint.load_arrays(os.path.join(out, "resume.safetensors"))
    assert meta["trainer"]["global_step"] >= 0
    rc, stdout, err = run_cli(["train", "--resume", out], capsys)
    assert rc == 0, err


def test_read_only_or_not_a_folder_is_one_line_naming_the_path(corpus, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc, _, err = train(corpus, str(blocker / "run"), capsys)
    assert_one_line_error(rc, err, str(blocker))
    rc, _, err = train(corpus, str(blocker), capsys)
    assert_one_line_error(rc, err, str(blocker), "not a directory")

    from rnnlab.train import checkpoint

    out = str(tmp_path / "ro")
    assert train(corpus, out, capsys, "--keep-resume")[0] == 0
    before = files(out)

    def read_only(src, dst):   # what a read-only file system answers (root ignores chmod)
        raise OSError(errno.EROFS, "Read-only file system", src, None, dst)

    monkeypatch.setattr(checkpoint.os, "replace", read_only)
    rc, _, err = run_cli(["train", "charlm", "--data", corpus, "--out", out, "--overwrite", "--epochs", "1"] + TINY,
                         capsys)
    assert_one_line_error(rc, err, out, "Read-only file system")
    monkeypatch.undo()
    assert files(out) == before


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_files_honour_the_umask(corpus, tmp_path, capsys, mask):
    old = os.umask(mask)
    try:
        out = str(tmp_path / "run")
        assert train(corpus, out, capsys, "--keep-resume")[0] == 0
    finally:
        os.umask(old)
    for f in ("model.safetensors", "config.json", "args.json", "metrics.json", "resume.safetensors"):
        assert os.stat(os.path.join(out, f)).st_mode & 0o777 == 0o666 & ~mask, f


# ---------------------------------------------------------------------- corrupted weights
def test_a_changed_byte_in_the_weights_is_detected(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, capsys)[0] == 0
    path = os.path.join(out, "model.safetensors")
    data = bytearray(open(path, "rb").read())
    data[-3] ^= 0x40          # a tensor byte, not the header: the file still parses
    open(path, "wb").write(bytes(data))
    rc, _, err = run_cli(["generate", out, "--length", "5"], capsys)
    assert_one_line_error(rc, err, "model.safetensors", "checksum mismatch")


def test_weights_saved_without_a_checksum_still_load(corpus, tmp_path, capsys):
    from safetensors.numpy import load_file, save_file

    out = str(tmp_path / "run")
    assert train(corpus, out, capsys)[0] == 0
    path = os.path.join(out, "model.safetensors")
    save_file(load_file(path), path, metadata={"rnnlab": json.dumps({"task": "charlm"})})
    rc, stdout, err = run_cli(["generate", out, "--length", "5", "--seed", "0"], capsys)
    assert rc == 0, err


# ---------------------------------------------------------------------- kills at any moment
# A driver that trains like `rnnlab train` but SIGKILLs itself at a chosen moment: inside training step N
# ("step"), or in the N-th save of resume.safetensors after its temp file is written, before the rename ("save").
DRIVER = r"""
import os, signal, sys
from rnnlab import cli, optim
from rnnlab.train import checkpoint
mode, n = sys.argv[1], int(sys.argv[2])
count = [0]
if mode == "step":
    clip = optim.clip_grad_norm_
    def clip_then_die(*a, **k):
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return clip(*a, **k)
    optim.clip_grad_norm_ = clip_then_die
else:
    replace = os.replace
    def replace_then_die(src, dst):
        if dst.endswith("resume.safetensors"):
            count[0] += 1
            if count[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
        return replace(src, dst)
    checkpoint.os.replace = replace_then_die
sys.exit(cli.main(sys.argv[3:]))
"""

KILL_ARGS = ["train", "charlm", "--hidden", "12", "--embed", "4", "--layers", "1", "--batch", "2", "--bptt", "8",
             "--dropout", "0.1", "--epochs", "2", "--seed", "3", "--quiet", "--keep-resume"]


def _weights(path):
    from safetensors.numpy import load_file

    return {k: v for k, v in load_file(path).items() if k.startswith("model/")}


def _without_times(path):
    rows = [json.loads(x) for x in open(path)]
    for r in rows:
        r.pop("elapsed")
    return rows


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("kill")
    corpus = d / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    driver = d / "driver.py"
    driver.write_text(DRIVER)
    full = str(d / "full")
    subprocess.run([sys.executable, str(driver), "none", "0"] + KILL_ARGS + ["--data", str(corpus), "--out", full],
                   check=True, capture_output=True)
    return d, str(corpus), str(driver), full


@pytest.mark.parametrize("mode,n,save_every", [
    ("step", 1, "3600"),     # in the first step: only the step-0 checkpoint exists
    ("step", 150, "0"),      # mid-way through the second epoch (108 steps each)
    ("save", 1, "3600"),     # while writing the very first checkpoint: --resume starts at step 0
    ("save", 40, "0"),       # during a save in the first epoch: a temp file is left behind
])
def test_killed_at_any_moment_then_resumed_equals_the_uninterrupted_run(uninterrupted, mode, n, save_every):
    d, corpus, driver, full = uninterrupted
    out = str(d / f"killed-{mode}-{n}")
    r = subprocess.run([sys.executable, str(driver), mode, str(n)] + KILL_ARGS
                       + ["--data", corpus, "--out", out, "--save-every", save_every], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    if mode == "save":
        assert [f for f in os.listdir(out) if f.startswith(".tmp-")], "the kill should leave a temp file"
    r = subprocess.run([sys.executable, "-m", "rnnlab.cli", "train", "--resume", out, "--quiet", "--keep-resume"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    a, b = _weights(os.path.join(full, "resume.safetensors")), _weights(os.path.join(out, "resume.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert _without_times(os.path.join(out, "metrics.jsonl")) == _without_times(os.path.join(full, "metrics.jsonl"))
    resumed, uninterrupted = json.loads(r.stdout.splitlines()[-1]), json.load(open(os.path.join(full, "metrics.json")))
    resumed.pop("train_seconds"), uninterrupted.pop("train_seconds")
    assert resumed == uninterrupted


def test_ctrl_c_says_how_to_resume(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.tasks.charlm import CharLMTask

    def interrupt(self, *a):
        raise KeyboardInterrupt

    monkeypatch.setattr(CharLMTask, "train_step", interrupt)
    out = str(tmp_path / "run")
    rc, _, err = train(corpus, out, capsys)
    assert rc == 130 and err.strip() == f"rnnlab: interrupted; resume with: rnnlab train --resume {out}"
    monkeypatch.undo()
    rc, _, err = run_cli(["train", "--resume", out], capsys)
    assert rc == 0, err


def test_ctrl_c_saves_at_the_step_boundary_and_the_resumed_run_is_exact(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.tasks.charlm import CharLMTask
    from rnnlab.train import checkpoint

    step, calls = CharLMTask.train_step, [0]

    def press_ctrl_c_in_step_5(self, *a):
        calls[0] += 1
        if calls[0] == 5:
            os.kill(os.getpid(), signal.SIGINT)      # arrives in the middle of the step
        return step(self, *a)

    out, full = str(tmp_path / "run"), str(tmp_path / "full")
    flags = ["--epochs", "2", "--save-every", "3600", "--keep-resume"]
    with monkeypatch.context() as m:
        m.setattr(CharLMTask, "train_step", press_ctrl_c_in_step_5)
        rc, _, err = run_cli(["train", "charlm", "--data", corpus, "--out", out] + TINY + flags, capsys)
    assert rc == 130 and "resume with: rnnlab train --resume" in err
    _, meta = checkpoint.load_arrays(os.path.join(out, "resume.safetensors"))
    assert meta["trainer"]["global_step"] == 5                # the step that was running was finished and saved
    assert run_cli(["train", "--resume", out, "--keep-resume"], capsys)[0] == 0
    assert run_cli(["train", "charlm", "--data", corpus, "--out", full] + TINY + flags, capsys)[0] == 0
    a, b = _weights(os.path.join(full, "resume.safetensors")), _weights(os.path.join(out, "resume.safetensors"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
