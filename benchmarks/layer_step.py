"""The recurrent layer alone, forward + backward with dx, rnnlab's engine backends vs PyTorch.

    python benchmarks/layer_step.py                         # lstm, gru, rnn at the three default shapes
    python benchmarks/layer_step.py --cells lstm --shapes 32,50,64,128 --repeats 9
    python benchmarks/layer_step.py --backends numba numba_loops

Every function runs in one process, alternating (``measure.alternate``: a 0.15 s pause and an
untimed call before each timed loop), on the same float32 inputs and weights, with
torch.set_num_threads equal to NumPy's BLAS threads. Prints torch/rnnlab per backend
(above 1: rnnlab is faster) and the 1-minute load average before and after.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SHAPES = [(32, 50, 64, 128), (64, 100, 128, 256), (16, 200, 96, 384)]


def step_fns(cell, B, T, I, H, seed=0):
    """(rnnlab_fn, torch_fn): forward + backward of one layer with dy given, dx computed."""
    import torch

    import cases
    m = cases.Model(cell, I, H, I, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I), dtype=np.float32)
    dy = rng.standard_normal((B, T, H), dtype=np.float32)

    def ours():
        y, _, cache = m.layer.forward(x, training=True)
        return m.layer.backward(dy, cache)

    tx = torch.from_numpy(x).requires_grad_()
    tdy = torch.from_numpy(dy)

    def theirs():
        tx.grad = None
        for p in m.t_layer.parameters():
            p.grad = None
        y = m.t_layer(tx)[0]
        y.backward(tdy)
        return tx.grad

    return ours, theirs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    ap.add_argument("--shapes", nargs="+", default=[",".join(map(str, s)) for s in SHAPES], help="B,T,I,H")
    ap.add_argument("--backends", nargs="+", default=None, help="rnnlab engine backends (default: all available)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: the BLAS's)")
    args = ap.parse_args(argv)

    import torch

    import measure
    from rnnlab import engine

    if args.threads:
        engine.set_num_threads(args.threads)
    blas = measure.blas_facts()
    torch.set_num_threads(int(blas["num_threads"] or 1))
    engine.set_num_threads(int(blas["num_threads"] or 1))
    backends = args.backends or [b for b in engine.BACKENDS if _available(engine, b)]
    print(f"BLAS {blas['internal_api']} {blas['version']}, kernel {blas['architecture']}, "
          f"{blas['num_threads']} threads; 1-minute load average {os.getloadavg()[0]:.2f} before")
    print("| cell | (B,T,I,H) | torch ms | " + " | ".join(f"{b} ms | torch/{b}" for b in backends) + " |")
    print("|---|---|---:|" + "---:|---:|" * len(backends))
    for cell in args.cells:
        for shape in args.shapes:
            B, T, I, H = (int(v) for v in shape.split(","))
            ours, theirs = step_fns(cell, B, T, I, H)
            fns = [theirs] + [_with_backend(engine, b, ours) for b in backends]
            times = measure.alternate(fns, args.repeats)
            row = " | ".join(f"{t * 1e3:.2f} | {times[0] / t:.2f}" for t in times[1:])
            print(f"| {cell} | ({B},{T},{I},{H}) | {times[0] * 1e3:.2f} | {row} |", flush=True)
    print(f"1-minute load average {os.getloadavg()[0]:.2f} after")


def _available(engine, name):
    try:
        with engine.use_backend(name):
            return True
    except ImportError:
        return False


def _with_backend(engine, name, fn):
    def run():
        with engine.use_backend(name):
            return fn()
    return run


if __name__ == "__main__":
    main()
