"""Which implementation of the time loops and per-step elementwise kernels the engine runs.

    rnnlab.engine.set_backend("numpy")         # ufunc chains, always available
    rnnlab.engine.set_backend("numba")         # fused compiled kernels (pip install rnnlab[fast])
    rnnlab.engine.set_backend("numba_loops")   # the same kernels, and each direction's whole time loop
                                               # compiled, calling NumPy's BLAS itself (``_numba_loops``)
    rnnlab.engine.get_backend()                # -> the first of numba_loops, numba, numpy that imports

"numpy" and "numba" share every loop and matrix product; they differ only in the
elementwise work between two products, and agree to rounding (float32: a few ulp
per step from the tanh approximation; float64: to ~1e-15). "numba_loops" runs the
same products and kernels from compiled code, with no Python call per time step.
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
    """Select the backend: "numpy", "numba" or "numba_loops" (ImportError if numba, or for "numba_loops"
    NumPy's BLAS library, cannot be loaded)."""
    kernels = _load(name)
    _active["name"], _active["kernels"] = name, kernels


def get_backend():
    """The active backend's name; on first use, the first of "numba_loops", "numba", "numpy" that imports."""
    for name in ("numba_loops", "numba", "numpy"):
        if _active["name"] is not None:
            break
        try:
            set_backend(name)
        except ImportError:
            pass
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
