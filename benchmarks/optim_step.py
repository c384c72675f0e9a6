"""The optimizer's share of a training step: gradient clipping + one Adam step, rnnlab against torch.optim.

    python benchmarks/optim_step.py              # float32, one thread each

The parameters of a word-level classifier (an embedding of V words x 100, an LSTM 100 -> 128, a linear
head), as `rnnlab train classify` builds them for a file with a vocabulary of V words. Both sides
update dense parameters (torch.optim.Adam on an nn.Embedding's dense gradient, its default), so a step
costs the same work whichever rows the batch touched. Times: median of 7 alternating loops of calls
(`measure.alternate`), clip_grad_norm_(5.0) + Adam(lr=2e-3).step(); rnnlab's NumPy path
(``rnnlab.engine.set_backend("numpy")``) and its compiled one, PyTorch with its foreach (default) and
single-tensor implementations.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def shapes(vocab):
    return {"embedding": (vocab, 100), "weight_ih_l0": (512, 100), "weight_hh_l0": (512, 128),
            "bias_ih_l0": (512,), "bias_hh_l0": (512,), "out.weight": (2, 128), "out.bias": (2,)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, nargs="+", default=[2000, 20000, 60000])
    args = ap.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    import measure
    from rnnlab import engine
    from rnnlab.optim import Adam, clip_grad_norm_

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        blas = measure.blas_facts()
        print(f"BLAS kernel {blas['architecture']}, 1 thread each; float32; 1-minute load average "
              f"{os.getloadavg()[0]:.2f}")
        print("| vocabulary | parameters | rnnlab NumPy ms | rnnlab compiled ms | torch foreach ms | torch single ms "
              "| NumPy / compiled | torch foreach / compiled |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for vocab in args.vocab:
            sh = shapes(vocab)
            grads = {k: rng.standard_normal(s).astype(np.float32) for k, s in sh.items()}

            def ours(backend):
                params = {k: rng.standard_normal(s).astype(np.float32) for k, s in sh.items()}
                opt = Adam(params, lr=2e-3)

                def step():
                    with engine.use_backend(backend):
                        clip_grad_norm_(grads, 5.0)
                        opt.step(grads)
                return step

            def theirs(foreach):
                params = [torch.randn(*s, requires_grad=True) for s in sh.values()]
                for p, g in zip(params, grads.values()):
                    p.grad = torch.from_numpy(g.copy())
                opt = torch.optim.Adam(params, lr=2e-3, foreach=foreach)

                def step():
                    torch.nn.utils.clip_grad_norm_(params, 5.0)
                    opt.step()
                return step

            fns = [ours("numpy"), ours("numba"), theirs(True), theirs(False)]
            t_np, t_ours, t_fe, t_single = measure.alternate(fns, 7, pause=0)
            n = sum(int(np.prod(s)) for s in sh.values())
            print(f"| {vocab:,} | {n:,} | {t_np * 1e3:.2f} | {t_ours * 1e3:.2f} | {t_fe * 1e3:.2f} | "
                  f"{t_single * 1e3:.2f} | {t_np / t_ours:.2f} | {t_fe / t_ours:.2f} |")


if __name__ == "__main__":
    main()
