"""A timed run whose compiled loops are not in numba's cache yet starts on NumPy while a second process compiles
them, and switches back once they are: the budget's first seconds train instead of waiting for the compiler."""
import json
import os

import numpy as np
import pytest

from rnnlab import engine, optim
from rnnlab.engine import _warm
from rnnlab.layers.recurrent import GRU, LSTM

from conftest import run_cli

pytest.importorskip("numba")
START = _warm.start          # the real one (conftest replaces it for every other test)


class Model:
    def __init__(self, **modules):
        self.modules = modules


@pytest.fixture
def compiled(monkeypatch, tmp_path):
    """The real start(), a compiled backend, and the stamp in tmp_path (so the child always has work to do)."""
    monkeypatch.setattr(_warm, "start", START)
    monkeypatch.setattr(_warm, "stamp_path", lambda backend, modes, dtype: str(tmp_path / "stamp"))
    with engine.use_backend("numba_loops"):
        yield tmp_path / "stamp"
    for proc in _warm._detached:
        proc.wait(timeout=600)


def test_child_compiles_while_numpy_runs_then_the_backend_comes_back(compiled):
    warm = _warm.start(Model(rnn=LSTM(3, 4)))
    assert warm is not None and engine.get_backend() == "numpy" and _warm.running()
    assert os.path.exists(f"{compiled}.lock")
    a = np.ones(4, np.float32)
    assert optim._compiled(a) is not None            # the optimizer keeps its compiled step meanwhile
    assert warm.proc.wait(timeout=600) == 0
    assert warm.poll() and engine.get_backend() == "numba_loops" and not _warm.running()
    assert open(compiled).read().split() == ["numba_loops", "float32", "LSTM"]
    assert not os.path.exists(f"{compiled}.lock")
    assert _warm.start(Model(rnn=LSTM(3, 4))) is None and engine.get_backend() == "numba_loops"   # stamped


def test_nothing_starts_without_work_or_while_another_child_compiles(compiled):
    assert _warm.start(Model()) is None                              # no recurrent layer
    with engine.use_backend("numpy"):
        assert _warm.start(Model(rnn=GRU(3, 4))) is None             # the user runs pure NumPy
    open(f"{compiled}.lock", "w").close()                            # another run's child compiles now
    assert _warm.start(Model(rnn=GRU(3, 4))) is None and engine.get_backend() == "numba_loops"
    os.utime(f"{compiled}.lock", (1, 1))                             # ... or was killed long ago
    warm = _warm.start(Model(rnn=GRU(3, 4)))
    assert warm is not None
    warm.close()                                                     # a run ending first leaves it to finish
    assert engine.get_backend() == "numba_loops" and warm.proc in _warm._detached


def test_recurrent_modes_and_dtype():
    model = Model(a=LSTM(3, 4, dtype=np.float64), b=GRU(8, 4, dtype=np.float64), c=object())
    assert _warm.recurrent_modes(model) == (["GRU", "LSTM"], "float64")
    assert _warm.recurrent_modes(object()) == ([], "float32")


def test_a_timed_cli_run_uses_it_and_ends_on_the_compiled_backend(compiled, tmp_path, capsys):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review number {i} was {'good' if i % 2 else 'bad'},"
                                             f"{'pos' if i % 2 else 'neg'}\n" for i in range(60)), encoding="utf-8")
    rc, out, err = run_cli(["train", "classify", "--data", str(data), "--max-time", "3", "--hidden", "8",
                            "--embed", "4", "--quiet", "--out", str(tmp_path / "run")], capsys)
    assert rc == 0, err
    assert json.loads(out.strip().splitlines()[-1])["steps"] > 0
    assert engine.get_backend() == "numba_loops" and not _warm.running()
