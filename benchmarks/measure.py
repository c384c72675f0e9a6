"""Timing, GEMM peak, memory and BLAS facts, shared by every benchmark case."""
import platform
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_info


def alternate(fns, repeats, warmup=3, min_time=0.02, pause=0.15):
    """Median seconds per call of each fn, timed side by side: one round calls each fn in turn.

    Each timing is a small loop of n calls (n chosen so a loop lasts >= min_time),
    which keeps timer noise out of sub-millisecond calls. Before each loop the process
    sleeps ``pause`` seconds: the worker threads of the library that just ran (OpenBLAS's,
    PyTorch's OpenMP pool) spin for a while after their last job and would otherwise run
    on the same cores as the next loop, slowing whichever library comes second (by 1.5-10x
    in single calls on 2 cores); one untimed call then wakes the next library's own threads.
    """
    for f in fns:
        for _ in range(warmup):
            f()
    loops = []
    for f in fns:
        t = time.perf_counter()
        f()
        loops.append(max(1, int(min_time / max(time.perf_counter() - t, 1e-7))))
    times = [[] for _ in fns]
    for _ in range(repeats):
        for k, f in enumerate(fns):
            n = loops[k]
            if pause:
                time.sleep(pause)
                f()                     # untimed: wakes this library's threads after the pause
            t = time.perf_counter()
            for _ in range(n):
                f()
            times[k].append((time.perf_counter() - t) / n)
    return [float(np.median(ts)) for ts in times]


def gemm_peak(n=2048, repeats=7):
    """float32 GEMM rate of NumPy's BLAS, GFLOP/s, for an n x n x n product."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    (t,) = alternate([lambda: np.matmul(a, b, out=c)], repeats, warmup=2, min_time=0.0)
    return 2.0 * n ** 3 / t / 1e9


def peak_bytes(fn):
    """Peak bytes newly allocated (tracemalloc sees NumPy's array buffers) during one call of fn."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def blas_facts():
    """NumPy's BLAS: library, version, kernel (OpenBLAS 'architecture') and threads."""
    for lib in threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
            return {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            return {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
    return {"internal_api": "unknown", "version": None, "architecture": None, "num_threads": 1}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
