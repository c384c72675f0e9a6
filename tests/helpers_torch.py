"""Shared by the rnnlab.torch tests: small data files and running rnnlab where torch cannot be imported."""
import os
import subprocess
import sys

import numpy as np
import pytest

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 30

# an import hook that makes `import torch` fail, as on a machine without the torch extra
_NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
sys.meta_path.insert(0, _NoTorch())
from rnnlab.cli import main
rc = main(sys.argv[1:])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
sys.exit(rc)
"""


def run_without_torch(args, stdin=None):
    """``rnnlab ARGS`` in a subprocess in which torch cannot be imported -> CompletedProcess."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", _NO_TORCH] + list(args), capture_output=True, text=True, env=env,
                          input=stdin, timeout=300)


def write_text(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


def write_reviews(tmp_path, n=96):
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for _ in range(n):
        good = rng.random() < 0.5
        words = rng.choice(["great fun", "loved it", "superb"] if good else ["dull", "awful mess", "boring"],
                           int(rng.integers(1, 4)))
        rows.append(f"\"{' '.join(words)} movie\",{'pos' if good else 'neg'}")
    p = tmp_path / "reviews.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(p)


def weights(path):
    from safetensors.numpy import load_file

    return load_file(path)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: BLAS and torch threads only spin against each other on a busy machine."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    torch.set_num_threads(before)
