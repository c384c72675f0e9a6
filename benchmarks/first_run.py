"""A first run on a machine, whose numba cache is empty: steps trained within --max-time.

    python benchmarks/first_run.py                                   # classify on turkish_register, 30 s
    python benchmarks/first_run.py --task charlm --data code.txt --max-time 60

Three runs of `rnnlab --threads 1 train TASK --data DATA --max-time S`, each in a fresh process:
- "in-process": an empty numba cache, and the run compiles the engine's loops itself (the background
  compile turned off), as every first run did before;
- "background": an empty numba cache, the command line's default: a second process compiles the loops
  while the first steps run on NumPy (``rnnlab.engine._warm``);
- "warm": the cache that run left (every later run on the machine).
Prints the steps each made and the held-out metric.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

RUN = "import sys; from rnnlab.engine import _warm; {patch}from rnnlab.cli import main; sys.exit(main(sys.argv[1:]))"


def train(task, data, max_time, cache, out, background):
    patch = "" if background else "_warm.start = lambda model: None; "
    cmd = [sys.executable, "-c", RUN.format(patch=patch), "--threads", "1", "train", task, "--data", data,
           "--max-time", str(max_time), "--quiet", "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NUMBA_CACHE_DIR": cache})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="classify")
    ap.add_argument("--data", default="turkish_register")
    ap.add_argument("--max-time", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=30.0, help="seconds to wait after the background run, so that "
                    "a compile it left running ends before the next run")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for mode in ("in-process", "background", "warm"):
            cache = os.path.join(tmp, "cache-in-process" if mode == "in-process" else "cache")
            final = train(args.task, args.data, args.max_time, cache, os.path.join(tmp, mode), mode != "in-process")
            metric = next(k for k in ("accuracy", "test_bpc", "f1", "test_wer", "loss") if k in final)
            rows.append((mode, final["steps"], metric, final[metric]))
            if mode == "background":
                time.sleep(args.settle)
    print(f"{args.task} --data {args.data} --max-time {args.max_time:g}, one thread")
    print("| numba cache | steps | held-out metric |")
    print("|---|---:|---|")
    for mode, steps, metric, value in rows:
        print(f"| {mode} | {steps} | {metric} {value:.4f} |")


if __name__ == "__main__":
    main()
