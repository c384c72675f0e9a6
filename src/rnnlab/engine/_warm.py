"""Compiling the engine's loops in a second process while a timed run starts on NumPy.

numba compiles each compiled loop the first time it runs on a machine, then loads it from its
cache: a recurrent layer's loops take 10-20 s of one core to compile, which a first run with
``--max-time`` would spend compiling instead of training. ``start(model)`` runs the model's kinds of
recurrent layer once, forward and backward, in a child process that fills numba's cache, and
sets this process's backend to "numpy" meanwhile (the same equations; its layers 1.3-1.7x slower);
``Warmup.poll()`` between steps switches back once the child is done, and the loops then load
from the cache in under a second. The child writes a stamp next to numba's cache when it is done,
so that runs on a warm cache start no child. The optimizer's kernels compile in about a second and
stay compiled meanwhile; the losses' softmax kernels are compiled by the child too and run in NumPy meanwhile.

    python -m rnnlab.engine._warm STAMP BACKEND DTYPE MODE [MODE ...]     # what the child runs
"""
import hashlib
import os
import subprocess
import sys
import time

import numpy as np

from ._backend import get_backend, set_backend, set_num_threads

_state = {"previous": None}      # the backend to return to while a warm-up runs, else None


def running():
    """Whether a warm-up runs now (the backend is "numpy" for it, not by the user's choice)."""
    return _state["previous"] is not None


def recurrent_modes(model):
    """The sorted modes ("GRU", "LSTM", "RNN_TANH", "RNN_RELU") of the model's recurrent layers, and their dtype."""
    from ..layers.recurrent import _Recurrent

    modules = getattr(model, "modules", None)          # a torch model's ``modules`` is a method
    layers = [m for m in modules.values() if isinstance(m, _Recurrent)] if isinstance(modules, dict) else []
    return sorted({m.mode for m in layers}), (layers[0].dtype.name if layers else "float32")


def stamp_path(backend, modes, dtype):
    """The stamp file saying these layers' loops are in numba's cache, or None when numba's cache is unknown.

    Its name changes with anything that makes numba compile again: the engine's source files, numba, Python, the CPU.
    """
    try:
        import llvmlite.binding as llvm
        import numba

        from . import _numba_loops
        folder = _numba_loops.lstm_fwd_loop._cache._cache_path
    except (ImportError, AttributeError):
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    parts = [numba.__version__, sys.version, sys.executable, llvm.get_host_cpu_name(),
             llvm.get_host_cpu_features().flatten(), backend, dtype, *modes]
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(here, name))
            parts.append(f"{name}:{st.st_mtime_ns}:{st.st_size}")
    return os.path.join(folder, "rnnlab-warm-" + hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16])


class Warmup:
    """A child process compiling the loops; ``poll()`` restores the compiled backend once it is done."""

    def __init__(self, proc):
        self.proc = proc

    def poll(self):
        """True once the child has finished (the backend is then the compiled one again)."""
        if self.proc.poll() is None:
            return False
        self.close()
        return True

    def close(self):
        """Restore the compiled backend. A child still compiling is left to finish: its work is the next run's."""
        if self.proc.poll() is None:
            _detached.append(self.proc)
        if _state["previous"] is not None:
            set_backend(_state["previous"])
            _state["previous"] = None


_detached = []       # children left compiling when their run ended first
STALE_LOCK = 600     # seconds after which a lock left by a killed child no longer counts


def start(model):
    """A Warmup when the model's loops are not compiled on this machine yet, else None (nothing to do)."""
    backend = get_backend()
    modes, dtype = recurrent_modes(model)
    if backend == "numpy" or running() or not modes:
        return None
    stamp = stamp_path(backend, modes, dtype)
    if stamp is None or os.path.exists(stamp) or not _lock(stamp + ".lock"):
        return None         # compiled already, or another run's child compiles it now: compile here if needed
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab.engine._warm", stamp, backend, dtype, *modes],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    _state["previous"] = backend
    set_backend("numpy")
    return Warmup(proc)


def _lock(path):
    """Create the lock file (True), or False when another child holds it."""
    for _ in range(2):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            try:
                if time.time() - os.path.getmtime(path) < STALE_LOCK:
                    return False
                os.unlink(path)
            except FileNotFoundError:
                pass
        except OSError:             # a read-only cache folder: numba could not write its cache there either
            return False
    return False


def compile_loops(backend, dtype, modes):
    """Run every path a training step takes through layers of these modes: batch-major (B < 16) and feature-major
    batches, one layer and two bidirectional ones, with and without lengths, backward with and without dx; on one
    thread and on two (the backend may choose other loops for each); then the losses' softmax kernels."""
    from ..layers.recurrent import GRU, LSTM, RNN
    from ..losses import cross_entropy, cross_entropy_backward, log_softmax

    set_backend(backend)
    make = {"LSTM": LSTM, "GRU": GRU, "RNN_TANH": lambda *a, **k: RNN(*a, nonlinearity="tanh", **k),
            "RNN_RELU": lambda *a, **k: RNN(*a, nonlinearity="relu", **k)}
    rng = np.random.default_rng(0)
    for threads in (1, 2):
        set_num_threads(threads)
        for mode in modes:
            for layers, bidirectional in ((1, False), (2, True)):
                layer = make[mode](6, 5, num_layers=layers, bidirectional=bidirectional, dtype=dtype, seed=0)
                for B in (3, 16):
                    x = rng.standard_normal((B, 4, 6)).astype(dtype)       # (B, T, I)
                    for lengths in (None, np.array([4] + [2] * (B - 1))):
                        y, _, cache = layer.forward(x, lengths=lengths, training=True)
                        layer.backward(np.ones_like(y), cache, need_dx=lengths is None)
    logits = rng.standard_normal((2, 3, 4)).astype(dtype)        # the losses' row kernels
    cross_entropy_backward(cross_entropy(logits, np.zeros((2, 3), dtype=np.int64))[1])
    log_softmax(logits)


def main(argv):
    stamp, backend, dtype, modes = argv[0], argv[1], argv[2], argv[3:]
    try:
        compile_loops(backend, dtype, modes)
        with open(stamp + ".tmp", "w") as f:
            f.write(" ".join([backend, dtype, *modes]) + "\n")
        os.replace(stamp + ".tmp", stamp)
    finally:
        if os.path.exists(stamp + ".lock"):
            os.unlink(stamp + ".lock")


if __name__ == "__main__":
    main(sys.argv[1:])
