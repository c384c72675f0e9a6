"""Training throughput of charlm on 1 and 2 processes (torchrun, gloo), NumPy and torch backends.

    python benchmarks/torchrun_throughput.py [--limit CHARS] [--hidden H]

Each configuration trains one epoch over the first CHARS characters of Shakespeare with the
same global batch (32 x 64); throughput is the trained characters over the training time the
run reports (evaluation excluded). Also printed: the bytes all-reduced per step (every
gradient once; the language model's carried state is all-gathered on top of that).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(nproc, backend, args, out):
    cmd = ["-m", "rnnlab", "--threads", "1", "train", "charlm", "--data", "shakespeare", "--limit", str(args.limit),
           "--hidden", str(args.hidden), "--layers", "1", "--embed", "64", "--batch", "32", "--bptt", "64",
           "--epochs", "1", "--backend", backend, "--quiet", "--out", out]
    if nproc > 1:
        cmd = ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
               "--master_port", str(free_port())] + cmd
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable] + cmd, check=True, env=env, capture_output=True)
    epoch = json.loads(open(os.path.join(out, "metrics.jsonl")).readline())
    return epoch["step"] * 32 * 64 / epoch["elapsed"], epoch["step"], epoch["elapsed"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--limit", type=int, default=400_000)
    p.add_argument("--hidden", type=int, default=256)
    args = p.parse_args()
    from rnnlab.tasks.base import load_run

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("numpy", "torch"):
            for nproc in (1, 2):
                out = os.path.join(tmp, f"{backend}{nproc}")
                rate, steps, secs = train(nproc, backend, args, out)
                _, model = load_run(out)
                grad_bytes = sum(a.nbytes for a in model.params.values())
                state_bytes = 2 * 32 * args.hidden * 4          # LSTM (h, c) of the global batch, float32
                rows.append((backend, nproc, rate, steps, secs, grad_bytes, state_bytes))
    print("| backend | processes | characters/s | steps | training s | bytes all-reduced per step | "
          "carried state all-gathered per step |")
    print("|---|---|---|---|---|---|---|")
    for backend, nproc, rate, steps, secs, grad_bytes, state_bytes in rows:
        print(f"| {backend} | {nproc} | {rate:,.0f} | {steps} | {secs:.1f} | "
              f"{grad_bytes + 8 if nproc > 1 else 0:,} | {state_bytes if nproc > 1 else 0:,} |")
    print(f"\nlimit {args.limit} characters, hidden {args.hidden}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
