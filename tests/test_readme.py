"""The README's code runs: both Python API snippets are executed, and every `rnnlab ...` command in it
parses and validates with the real parser and task settings; the cheap ones are run with a small budget."""
import re
import shlex
from pathlib import Path

import pytest

from conftest import run_cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
PLACEHOLDERS = {"CELL": "lstm", "PRE": "glove", "H": "8"}
PROSE = {"rnnlab train", "rnnlab --threads 1", "rnnlab report"}      # mentioned in sentences, not commands
BUDGET = ["--epochs", "1", "--limit", "300", "--quiet"]       # appended: the last occurrence of a flag wins


def python_snippets():
    return re.findall(r"```python\n(.*?)```", README, re.S)


def commands():
    """Every `rnnlab ...` command in the README (the synopsis block excepted), placeholders filled in."""
    found = []
    in_block, synopsis, tag_table = False, False, False
    for line in README.splitlines():
        if line.startswith("```"):
            in_block, synopsis = not in_block, False
            continue
        if in_block:
            synopsis = synopsis or line.startswith("rnnlab [")
            if line.startswith("rnnlab ") and not synopsis:
                found.append(line.split("#")[0].strip())
            continue
        tag_table = tag_table or "command (`rnnlab --threads 1 train tag ...`)" in line
        tag_table = tag_table and line.startswith("|")
        for span in re.findall(r"`([^`]+)`", line):
            if span.startswith("rnnlab ") and "..." not in span and span not in PROSE:
                found.append(span)
            elif tag_table and span.startswith("--data "):
                found.append("rnnlab --threads 1 train tag " + span)
    return [" ".join(PLACEHOLDERS.get(w, w) for w in shlex.split(c)) for c in found]


@pytest.mark.parametrize("index", range(len(python_snippets())))
def test_python_snippet_runs(index, tmp_path, monkeypatch, capsys):
    snippet = python_snippets()[index]
    # a snippet that reads run directories (runs/NAME) gets tiny real runs of those names, NAME's cell if it is one
    monkeypatch.chdir(tmp_path)
    for name in sorted(set(re.findall(r"[\"']runs/(\w+)[\"']", snippet))):
        train_tiny_lm(tmp_path, f"runs/{name}", name if name in ("rnn", "lstm", "gru") else "lstm", capsys)
    exec(compile(snippet, f"README.md python snippet {index + 1}", "exec"), {})


def train_tiny_lm(tmp_path, out, cell, capsys):
    text = tmp_path / "play.txt"
    text.write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 30, encoding="utf-8")
    assert run_cli(["train", "charlm", "--data", str(text), "--out", out, "--cell", cell, "--hidden", "8",
                    "--embed", "4", "--layers", "1", "--batch", "2", "--bptt", "8"] + BUDGET, capsys)[0] == 0
    return out


def test_every_command_parses_and_validates(tmp_path):
    from rnnlab.cli import build_parser
    from rnnlab.data import DATASETS
    from rnnlab.ranges import check_settings
    from rnnlab.tasks import settings_from_args

    cmds = commands()
    assert len(cmds) >= 15 and any("--cell bag" in c for c in cmds)
    for cmd in cmds:
        argv = [str(tmp_path / "run") if w == "DIR" else w for w in shlex.split(cmd)[1:]]
        args = build_parser().parse_args(argv)
        if args.command == "train" and not args.resume:
            settings = settings_from_args(args)
            check_settings(settings, cmd)
            assert settings["data"] in DATASETS, cmd


@pytest.fixture
def tiny_lm(tmp_path, capsys):
    return train_tiny_lm(tmp_path, str(tmp_path / "demo"), "lstm", capsys)


def test_cheap_commands_run(tiny_lm, tmp_path, capsys):
    ran = 0
    for cmd in commands():
        argv = shlex.split(cmd)[1:]
        if argv[:1] == ["generate"] and "--output" not in argv:
            argv = [tiny_lm if w in ("DIR", "runs/demo") else w for w in argv] + ["--length", "20"]
        elif argv[:1] == ["evaluate"] and "--beam" not in argv:
            argv = [tiny_lm if w == "DIR" else w for w in argv]
        elif "--data" in argv and argv[argv.index("--data") + 1] == "order" and argv[:1] == ["train"]:
            argv = argv + BUDGET + ["--out", str(tmp_path / f"order{ran}")]
        else:
            continue
        rc, _, err = run_cli(argv, capsys)
        assert rc == 0, (cmd, err)
        ran += 1
    assert ran >= 4
