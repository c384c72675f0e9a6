"""NumPy's own BLAS GEMM, callable from numba-compiled code (for the ``"numba_loops"`` backend).

    gemm(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc)
        c (M, N) = op(a) @ op(b) + beta * c, row-major; a, b, c are arrays whose first
        element is the first element of the operand (a sub-block of a bigger array is
        passed as a view that starts there, with the bigger array's row stride as ld*).

The library is the one NumPy itself links (found next to NumPy's extension modules), so
the compiled time loops and NumPy's matmul share one BLAS, one set of kernels and one
thread pool: no second library's worker threads spin on the cores while the first one
works. Importing this module raises ImportError where that library cannot be found
(NumPy built against another BLAS); the backend is then unavailable.
"""
import ctypes
import glob
import os

import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.extending import overload

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# (file pattern in NumPy's wheel, symbol prefix/suffix, integer type): the OpenBLAS that
# NumPy's wheels ship is built with 64-bit integers and prefixed symbol names.
_CANDIDATES = [("numpy.libs/*scipy_openblas64_*", "scipy_cblas_", "64_", ctypes.c_int64),
               ("numpy.libs/*openblas64_*", "cblas_", "64_", ctypes.c_int64),
               ("numpy.libs/*openblas*", "cblas_", "", ctypes.c_int)]


def _find():
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    for pattern, prefix, suffix, integer in _CANDIDATES:
        for path in sorted(glob.glob(os.path.join(site, pattern))):
            lib = ctypes.CDLL(path)
            if hasattr(lib, prefix + "sgemm" + suffix):
                return path, lib, prefix, suffix, integer
    raise ImportError("NumPy's BLAS library (an OpenBLAS in numpy.libs) was not found")


LIBRARY, _lib, _prefix, _suffix, _int = _find()


def _declare(name, real):
    """The C function as a symbol that compiled code calls by name (so numba can cache that code)."""
    symbol = "rnnlab_" + name
    llvm.add_symbol(symbol, ctypes.cast(getattr(_lib, _prefix + name + _suffix), ctypes.c_void_p).value)
    integer = types.int64 if _int is ctypes.c_int64 else types.intc
    return types.ExternalFunction(symbol, types.void(types.intc, types.intc, types.intc, integer, integer, integer,
                                                     real, types.voidptr, integer, types.voidptr, integer, real,
                                                     types.voidptr, integer))


_sgemm = _declare("sgemm", types.float32)
_dgemm = _declare("dgemm", types.float64)


def gemm(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc):
    """Python callers use NumPy; this body only names the function that numba compiles (below)."""
    raise NotImplementedError("gemm is callable from numba-compiled code only")


@overload(gemm)
def _gemm(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc):
    if a.dtype == types.float32:
        one, real, fn = np.float32(1.0), np.float32, _sgemm
    else:
        one, real, fn = 1.0, np.float64, _dgemm

    def impl(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc):
        fn(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS, M, N, K,
           one, a.ctypes, lda, b.ctypes, ldb, real(beta), c.ctypes, ldc)
    return impl


AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def corename():
    """The core whose kernels this OpenBLAS runs (``OPENBLAS_CORETYPE`` chooses it where set), lower case;
    "" where the library does not say."""
    for name in (_prefix.replace("cblas_", "openblas_") + "get_corename" + _suffix, "openblas_get_corename"):
        fn = getattr(_lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            return (fn() or b"").decode("ascii", "replace").lower()
    return ""
