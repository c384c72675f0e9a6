"""Which implementation of the per-step elementwise kernels the engine runs.

    rnnlab.engine.set_backend("numpy")   # ufunc chains, always available
    rnnlab.engine.set_backend("numba")   # fused compiled kernels (pip install rnnlab[fast])
    rnnlab.engine.get_backend()          # -> "numba" when numba imports, else "numpy"

Both backends share every loop and matrix product; they differ only in the
elementwise work between two products, and agree to rounding (float32: a few ulp
per step from the tanh approximation; float64: to ~1e-15).
"""
from contextlib import contextmanager

from . import _numpy_kernels

BACKENDS = ("numpy", "numba", "numba_loops")
_active = {"name": None, "kernels": None}


def _load(name):
    if name == "numpy":
        return _numpy_kernels
    if name == "numba":
        from . import _numba_kernels  # ImportError when numba is missing
        return _numba_kernels
    if name == "numba_loops":
        from . import _numba_loops  # ImportError when numba or NumPy's BLAS library is missing
        return _numba_loops
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def set_backend(name):
    """Select the kernels: "numpy" or "numba" (raises ImportError if numba is not installed)."""
    kernels = _load(name)
    _active["name"], _active["kernels"] = name, kernels


def get_backend():
    """The active backend's name; on first use, "numba" if it can be imported, else "numpy"."""
    if _active["name"] is None:
        try:
            set_backend("numba")
        except ImportError:
            set_backend("numpy")
    return _active["name"]


def loops(K):
    """True when kernel module K runs whole time loops in compiled code (``"numba_loops"``)."""
    return getattr(K, "LOOPS", False)


def kernels():
    """The active backend's kernel module."""
    get_backend()
    return _active["kernels"]


@contextmanager
def use_backend(name):
    """Run a block with another backend, restoring the previous one afterwards."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)
