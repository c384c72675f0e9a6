"""Where rnnlab's training step spends its time: a cProfile of the benchmark's step, grouped.

    python benchmarks/profile_step.py                    # every cell at (32,50,64,128) and (32,100,256,512)
    python benchmarks/profile_step.py lstm 32 100 256 512

Groups (the functions each one sums):
    recurrent products   the per-step B x H by H x gates products (forward and BPTT)
    gate kernels         the fused elementwise kernels (numba or NumPy backend)
    compiled loops       the numba_loops backend's time loops: per-step products and kernels together
    weight gradients     dW_ih, dW_hh, db accumulated chunk by chunk
    input projections    the one GEMM per layer for all steps' input products
    head + loss          Linear head forward/backward, log-softmax, cross entropy
    other                Python loop overhead, checks, copies
Shares are of the profiled time (cProfile adds a little to every Python call, so "other" is an
upper bound).
"""
import cProfile
import os
import pstats
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GROUPS = [
    ("recurrent products", lambda f, n: f.endswith("_ops.py") and n in ("__call__", "product")),
    ("gate kernels", lambda f, n: "_kernels.py" in f),
    ("compiled loops", lambda f, n: f.endswith("_numba_loops.py")),
    ("weight gradients", lambda f, n: f.endswith("_ops.py") and n in ("add", "_acc")),
    ("input projections", lambda f, n: f.endswith("_ops.py") and n in ("input_projection",)),
    ("head + loss", lambda f, n: f.endswith(("linear.py", "losses.py"))),
]


def profile(cell, B, T, I, H, repeats=20):
    import cases
    m = cases.Model(cell, I, H, I)
    ours, _ = cases.training_step(m, B, T)
    for _ in range(3):
        ours()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeats):
        ours()
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = sum(v[2] for v in stats.values())              # the tottime of every function
    shares = {name: 0.0 for name, _ in GROUPS}
    for (filename, _, funcname), (_, _, tt, _, _) in stats.items():
        for name, match in GROUPS:
            if match(filename, funcname):
                shares[name] += tt
                break
    out = {name: t / total for name, t in shares.items()}
    out["other"] = 1.0 - sum(out.values())
    return out, total / repeats


def main(argv):
    from threadpoolctl import threadpool_info

    from rnnlab import engine
    blas = next((lib for lib in threadpool_info() if lib["user_api"] == "blas"), {})
    print(f"backend {engine.get_backend()}, BLAS kernel {blas.get('architecture')}, {blas.get('num_threads')} threads")
    if argv:
        configs = [(argv[0],) + tuple(int(v) for v in argv[1:5])]
    else:
        configs = [(c, *s) for c in ("rnn", "lstm", "gru") for s in ((32, 50, 64, 128), (32, 100, 256, 512))]
    names = [name for name, _ in GROUPS] + ["other"]
    print("| cell | (B,T,I,H) | profiled ms | " + " | ".join(names) + " |")
    print("|---|---|---:|" + "---:|" * len(names))
    for cell, B, T, I, H in configs:
        shares, ms = profile(cell, B, T, I, H)
        print(f"| {cell} | ({B},{T},{I},{H}) | {ms * 1e3:.1f} | "
              + " | ".join(f"{100 * shares[n]:.0f}%" for n in names) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
