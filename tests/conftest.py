import numpy as np
import pytest


def assert_close(name, got, want, atol):
    """Assert two arrays agree, printing the tensor's name and its max abs difference on failure."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != expected {want.shape}"
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    assert diff <= atol, f"{name}: max abs diff {diff:.3e} > {atol:.0e}"


@pytest.fixture
def close():
    return assert_close


def run_cli(args, capsys):
    """Run ``rnnlab ARGS`` in-process: (exit code, stdout, stderr)."""
    from rnnlab.cli import main

    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *fragments):
    """Exit code 2 and exactly one ``rnnlab: error: ...`` line containing every fragment, no traceback."""
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(autouse=True)
def no_background_compile(monkeypatch):
    """Training runs in the tests stay on one backend from start to end: the CLI's background compile of the engine's
    loops (which starts on NumPy and switches once compiled) is tested on its own, in test_background_compile.py."""
    from rnnlab.engine import _warm

    monkeypatch.setattr(_warm, "start", lambda model: None)
