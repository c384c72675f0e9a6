"""Which implementation of the time loops and per-step elementwise kernels the engine runs.

    rnnlab.engine.set_backend("numpy")         # ufunc chains, always available
    rnnlab.engine.set_backend("numba")         # fused compiled kernels (pip install rnnlab[fast])
    rnnlab.engine.set_backend("numba_loops")   # the same kernels, and each direction's whole time loop
                                               # compiled, calling NumPy's BLAS itself (``_numba_loops``)
    rnnlab.engine.set_backend("numba_gemm")    # the same loops, each step's product by rnnlab's own
                                               # matrix product (``_gemm``, ``_numba_gemm``)
    rnnlab.engine.get_backend()                # -> on first use, the default (below)

"numpy" and "numba" share every loop and matrix product; they differ only in the
elementwise work between two products, and agree to rounding (float32: a few ulp
per step from the tanh approximation; float64: to ~1e-15). "numba_loops" runs the
same products and kernels from compiled code, with no Python call per time step; "numba_gemm"
the same, with its own per-step product (another order of the sums: agrees to rounding).

The default is the first that imports of "numba_gemm" (on a CPU with AVX-512, where its product is
faster than OpenBLAS's: docs/benchmarks.md), "numba_loops", "numba", "numpy".
"""
from contextlib import contextmanager

from . import _numpy_kernels

BACKENDS = ("numpy", "numba", "numba_loops", "numba_gemm")
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
    if name == "numba_gemm":
        from . import _numba_gemm
        return _numba_gemm
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def set_backend(name):
    """Select the backend: "numpy", "numba", "numba_loops" or "numba_gemm" (ImportError if numba, or for the
    last two NumPy's BLAS library, cannot be loaded)."""
    kernels = _load(name)
    _active["name"], _active["kernels"] = name, kernels


def get_backend():
    """The active backend's name; on first use, the first of "numba_gemm" (on a CPU with AVX-512),
    "numba_loops", "numba", "numpy" that imports."""
    if _active["name"] is not None:
        return _active["name"]
    for name in _preference():
        if _active["name"] is not None:
            break
        try:
            set_backend(name)
        except ImportError:
            pass
    return _active["name"]


def _preference():
    try:
        from ._gemm import preferred       # ImportError when numba is missing
    except ImportError:
        return ("numpy",)
    return ("numba_gemm",) * preferred() + ("numba_loops", "numba", "numpy")


def loops(K):
    """True when kernel module K runs whole time loops in compiled code (``"numba_loops"``, ``"numba_gemm"``)."""
    return getattr(K, "LOOPS", False)


def kernels():
    """The active backend's kernel module."""
    get_backend()
    return _active["kernels"]


def set_num_threads(n):
    """Use n threads (like ``torch.set_num_threads``): NumPy's BLAS and other OpenMP pools (through
    threadpoolctl, when installed) and numba's, whose count tells the "numba_gemm" backend whether it
    runs on one thread. Returns the threadpoolctl limiter (or None)."""
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(n)
    except ImportError:
        pass
    try:
        import numba
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    return limiter


@contextmanager
def use_backend(name):
    """Run a block with another backend, restoring the previous one afterwards."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)
