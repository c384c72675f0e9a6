"""rnnlab's own matrix product (``rnnlab.engine._gemm``) against NumPy's BLAS, one thread each.

    python benchmarks/own_gemm.py                 # float32, the recurrent layers' product shapes
    python benchmarks/own_gemm.py --dtype float64

Shapes (M, K) x (K, N): a time step's recurrent product W_hh h^T (4H, H) x (H, B) and its BPTT
product, the batch-major one (B, H) x (H, 3H), and the large ones outside the time loop (input
projection, weight gradient, dx). Each time is the median of 7 loops of calls (at least 20 ms a
loop), the two products alternating; prints GFLOP/s and own/BLAS, and the BLAS kernel in use
(``OPENBLAS_CORETYPE`` picks it).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SHAPES = [(512, 128, 32), (512, 128, 16), (1024, 256, 64), (1536, 384, 16), (384, 1536, 16), (32, 256, 768),
          (8, 256, 1024), (1024, 6400, 256), (1024, 128, 6400)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args(argv)

    from numba import njit
    from threadpoolctl import threadpool_limits

    import measure
    from rnnlab.engine._gemm import gemm_nn

    @njit
    def own(a, b, c):
        M, K = a.shape
        gemm_nn(M, b.shape[1], K, a, K, 1, b, b.shape[1], 0.0, c, b.shape[1])

    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        blas = measure.blas_facts()
        print(f"BLAS {blas['internal_api']} {blas['version']}, kernel {blas['architecture']}, 1 thread; {dtype}; "
              f"1-minute load average {os.getloadavg()[0]:.2f}")
        print("| (M, K) x (K, N) | BLAS us | own us | BLAS GFLOP/s | own GFLOP/s | own / BLAS |")
        print("|---|---:|---:|---:|---:|---:|")
        for M, K, N in SHAPES:
            a = rng.standard_normal((M, K)).astype(dtype)
            b = rng.standard_normal((K, N)).astype(dtype)
            c = np.empty((M, N), dtype)
            own(a, b, c)
            assert np.allclose(c, a @ b, rtol=1e-3, atol=1e-3 * np.sqrt(K)), (M, K, N)
            t_blas, t_own = measure.alternate([lambda: np.matmul(a, b, out=c), lambda: own(a, b, c)], 7, pause=0)
            flops = 2.0 * M * K * N
            print(f"| ({M}, {K}) x ({K}, {N}) | {t_blas * 1e6:.1f} | {t_own * 1e6:.1f} | {flops / t_blas / 1e9:.0f} | "
                  f"{flops / t_own / 1e9:.0f} | {t_blas / t_own:.2f} |")


if __name__ == "__main__":
    main()
