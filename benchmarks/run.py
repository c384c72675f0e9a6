"""rnnlab vs PyTorch on the CPU: training step, inference forward and per-token generation.

    python benchmarks/run.py                      # print one table for this environment
    python benchmarks/run.py --quick              # a subset, well under a minute
    python benchmarks/run.py --write docs/benchmarks.md
    python benchmarks/run.py --baseline numba     # also time another engine backend, in the same rounds

--write runs the suite twice in fresh processes, with the OpenBLAS variables
(OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) as set and with both removed, since they pick
OpenBLAS's kernels, and writes both tables into the file. Within one process the
two libraries run the same inputs side by side, alternating, on the same number of
threads (torch.set_num_threads = OpenBLAS's threads); each number is a median.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
GRID = [(32, 50, 64, 128), (64, 100, 128, 256), (32, 100, 256, 512), (1, 25, 65, 100)]
BIDIR = {"B": 16, "T": 50, "I": 64, "H": 128, "layers": 2}
GEN_V, GEN_H = 65, (128, 256)
CELLS = ("rnn", "lstm", "gru")
TARGET = {"rnn": 1.5, "lstm": 1.0, "gru": 1.5}


def run(quick, baseline=None, threads=None):
    import torch

    import cases
    import measure
    from rnnlab import engine

    if threads:
        engine.set_num_threads(threads)
    blas = measure.blas_facts()
    threads = int(blas["num_threads"] or 1)
    torch.set_num_threads(threads)
    engine.set_num_threads(threads)           # numba's threads too (numba_gemm uses its own product on one)
    repeats = 5 if quick else 15
    grid = [GRID[0], GRID[3]] if quick else GRID
    gen_h = GEN_H[:1] if quick else GEN_H
    out = {
        "env": {v: os.environ.get(v) for v in OPENBLAS_VARS}, "blas": blas, "threads": threads,
        "backend": engine.get_backend(), "versions": _versions(), "cpu": measure.cpu_name(),
        "cores": os.cpu_count(), "quick": quick, "train": [], "infer": [], "generate": [],
        "load_before": os.getloadavg()[0], "baseline": baseline,
    }
    out["gemm_peak"] = measure.gemm_peak(1024 if quick else 2048)
    _log(f"BLAS {blas}, GEMM peak {out['gemm_peak']:.0f} GFLOP/s, backend {out['backend']}")
    configs = [dict(B=B, T=T, I=I, H=H, layers=1, bidir=False) for B, T, I, H in grid]
    configs.append(dict(BIDIR, bidir=True))
    for cell in CELLS:
        for c in configs:
            B, T, I, H, L, bidir = c["B"], c["T"], c["I"], c["H"], c["layers"], c["bidir"]
            D = 2 if bidir else 1
            lengths = None
            if bidir:
                lengths = np.random.default_rng(1).integers(T // 2, T + 1, size=B)
                lengths[0] = T
            m = cases.Model(cell, I, H, I, layers=L, bidirectional=bidir)
            label = f"({B},{T},{I},{H})" + (f" {L}-layer bidir, lengths {T // 2}..{T}" if bidir else "")
            ours, theirs = cases.training_step(m, B, T, lengths)
            t_ours, t_theirs, *t_base = measure.alternate([ours, theirs] + _on(baseline, ours), repeats)
            fl = cases.flops(cell, B, T, I, H, I, L, D)
            keep = cases.must_keep_bytes(cell, B, T, I, H, I, m.n_params(), L, D, dx=False)
            pre = 4 * (m.n_params() + B * T * I)   # parameters and the input exist before the step
            peak = measure.peak_bytes(ours) + pre
            n_layer = sum(p.size for p in m.layer.params.values())
            layer_peak = measure.peak_bytes(cases.layer_step(m, B, T, lengths)) + 4 * (n_layer + B * T * I)
            layer_keep = cases.must_keep_bytes(cell, B, T, I, H, 0, n_layer, L, D)
            out["train"].append(dict(cell=cell, config=label, bidir=bidir, ours=t_ours, torch=t_theirs, flops=fl,
                                     peak_bytes=peak, keep_bytes=keep, layer_ratio=layer_peak / layer_keep,
                                     base=t_base[0] if t_base else None))
            _log(f"train {cell} {label}: rnnlab {t_ours * 1e3:.2f} ms, torch {t_theirs * 1e3:.2f} ms")
            ours, theirs = cases.inference(m, B, T, lengths)
            t_ours, t_theirs, *t_base = measure.alternate([ours, theirs] + _on(baseline, ours), repeats)
            out["infer"].append(dict(cell=cell, config=label, ours=t_ours, torch=t_theirs,
                                     flops=cases.flops(cell, B, T, I, H, I, L, D, backward=False),
                                     base=t_base[0] if t_base else None))
        for H in gen_h:
            m = cases.Model(cell, GEN_V, H, GEN_V)
            ours, seq, step = cases.generation(m)
            t_ours, t_seq, t_cell = measure.alternate([ours, seq, step], repeats, warmup=20)
            out["generate"].append(dict(cell=cell, V=GEN_V, H=H, ours=t_ours, torch=min(t_seq, t_cell),
                                        torch_via="nn.%s" % ("Cell" if t_cell < t_seq else "Seq")))
            _log(f"generate {cell} H={H}: rnnlab {t_ours * 1e6:.1f} us, torch {min(t_seq, t_cell) * 1e6:.1f} us")
    out["load_after"] = os.getloadavg()[0]
    return out


def _on(backend, fn):
    """[fn run with the engine backend ``backend``], or [] when there is no baseline to time."""
    if backend is None:
        return []
    from rnnlab import engine

    def run():
        with engine.use_backend(backend):
            return fn()
    return [run]


def _versions():
    import numpy
    import torch
    v = {"python": sys.version.split()[0], "numpy": numpy.__version__, "torch": torch.__version__}
    try:
        import numba
        v["numba"] = numba.__version__
    except ImportError:
        v["numba"] = None
    return v


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ tables
def render(results, command):
    r0 = results[0]
    v = r0["versions"]
    lines = [
        "# Benchmarks: rnnlab vs PyTorch on the CPU",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {r0['cpu']}, {r0['cores']} cores; {r0['threads']} thread{'s' * (r0['threads'] != 1)} for both libraries  ",
        f"Python {v['python']}, NumPy {v['numpy']}, torch {v['torch']}, numba {v['numba']}; "
        f"rnnlab engine backend: {r0['backend']}",
        "",
        "Method: both libraries run the same float32 inputs and weights in one process, side by "
        "side, alternating (each timed loop follows a 0.15 s pause and one untimed call, so that the "
        "other library's idle worker threads, which spin for a while after their last job, are "
        "asleep); each time is the median of the repeats after warm-up. Training step = "
        "recurrent layer + Linear head (V = I classes) + softmax cross entropy on every step, forward "
        "and backward; neither library computes dx for the data input (torch: it needs no gradient; "
        "rnnlab: backward(need_dx=False)). GFLOP/s counts the matrix products rnnlab performs. "
        "Peak memory: parameters and input plus the peak of what the step allocates (tracemalloc), "
        "over parameters + gradients "
        "+ what BPTT must keep (input, states, gates, the head's log-probabilities); \"layer alone\" is "
        "the same ratio for the recurrent layer's forward + backward without head and loss.",
    ]
    for r in results:
        lines += _render_one(r)
    return "\n".join(lines) + "\n"


def _render_one(r):
    env = ", ".join(f"{k}={v}" if v is not None else f"{k} unset" for k, v in r["env"].items())
    b = r["blas"]
    peak = r["gemm_peak"]
    base_head = f" torch/rnnlab, backend {r['baseline']} |" if r.get("baseline") else ""
    lines = ["", f"## {env}", "",
             f"BLAS: {b['internal_api']} {b['version']}, kernel `{b['architecture']}`, {b['num_threads']} thread{'s' * (b['num_threads'] != 1)}; "
             f"float32 GEMM peak measured in this run: {peak:.0f} GFLOP/s" + (" (quick run)" if r["quick"] else "")
             + f"; 1-minute load average {r['load_before']:.2f} before, {r['load_after']:.2f} after"
             + (" (other processes were running: times are inflated)" if max(r["load_before"], r["load_after"]) > 1.0 else ""),
             "", "### Training step", "",
             "Ceiling: the ratio rnnlab would reach if every one of its matrix products ran at this run's "
             "GEMM peak and nothing else took time (torch ms / (FLOPs / peak)); a target above it cannot "
             "be met with this BLAS kernel.", "",
             "| cell | (B,T,I,H) | rnnlab ms | torch ms | torch/rnnlab | target | ceiling | rnnlab GFLOP/s | % of GEMM peak | step peak memory / must-keep | layer alone |"
             + base_head,
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * bool(base_head)]
    for e in r["train"]:
        ratio = e["torch"] / e["ours"]
        target = TARGET[e["cell"]]
        gf = e["flops"] / e["ours"] / 1e9
        mark = "ok" if ratio >= target else "MISS"
        ceiling = e["torch"] / (e["flops"] / (peak * 1e9))
        lines.append(f"| {e['cell']} | {e['config']} | {e['ours'] * 1e3:.2f} | {e['torch'] * 1e3:.2f} | "
                     f"{ratio:.2f} | >= {target} {mark} | {ceiling:.2f} | {gf:.0f} | {100 * gf / peak:.0f}% | "
                     f"{e['peak_bytes'] / 2**20:.1f} / {e['keep_bytes'] / 2**20:.1f} MiB = {e['peak_bytes'] / e['keep_bytes']:.2f}x | "
                     f"{e['layer_ratio']:.2f}x |" + _base_cell(e))
    lines += ["", "### Inference forward (layer + head)", "",
              "| cell | (B,T,I,H) | rnnlab ms | torch ms | torch/rnnlab | rnnlab GFLOP/s |" + base_head,
              "|---|---|---:|---:|---:|---:|" + "---:|" * bool(base_head)]
    for e in r["infer"]:
        lines.append(f"| {e['cell']} | {e['config']} | {e['ours'] * 1e3:.3f} | {e['torch'] * 1e3:.3f} | "
                     f"{e['torch'] / e['ours']:.2f} | {e['flops'] / e['ours'] / 1e9:.0f} |" + _base_cell(e))
    lines += ["", "### Generation, one token (B=1, one-hot input, step + head + greedy pick)", "",
              "| cell | V, H | rnnlab us/token | torch us/token | torch/rnnlab (target >= 3) | rnnlab tokens/s | torch tokens/s |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for e in r["generate"]:
        ratio = e["torch"] / e["ours"]
        lines.append(f"| {e['cell']} | {e['V']}, {e['H']} | {e['ours'] * 1e6:.1f} | {e['torch'] * 1e6:.1f} ({e['torch_via']}) | "
                     f"{ratio:.2f} {'ok' if ratio >= 3 else 'MISS'} | {1 / e['ours']:.0f} | {1 / e['torch']:.0f} |")
    return lines


def _base_cell(e):
    """The baseline backend's torch/rnnlab ratio, timed in the same rounds, as a table cell."""
    return "" if e.get("base") is None else f" {e['torch'] / e['base']:.2f} |"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a subset with fewer repeats (< 1 minute)")
    ap.add_argument("--write", metavar="PATH", help="run with the OpenBLAS variables as set and unset; write the tables")
    ap.add_argument("--baseline", metavar="BACKEND", help="also time this engine backend (e.g. numba), in the same rounds")
    ap.add_argument("--threads", type=int, help="threads for both libraries (default: the BLAS's)")
    ap.add_argument("--json", metavar="PATH", help=argparse.SUPPRESS)   # one environment's results, for --write
    args = ap.parse_args(argv)
    command = ("python benchmarks/run.py" + (" --quick" if args.quick else "") + (f" --write {args.write}" if args.write else "")
               + (f" --baseline {args.baseline}" if args.baseline else "") + (f" --threads {args.threads}" if args.threads else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(run(args.quick, args.baseline, args.threads), f)
        return
    if not args.write:
        print(render([run(args.quick, args.baseline, args.threads)], command))
        return
    envs = [dict(os.environ)]
    if any(v in os.environ for v in OPENBLAS_VARS):
        envs.append({k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS})
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, env in enumerate(envs):
            path = os.path.join(tmp, f"{k}.json")
            cmd = ([sys.executable, os.path.abspath(__file__), "--json", path] + (["--quick"] if args.quick else [])
                   + (["--baseline", args.baseline] if args.baseline else [])
                   + (["--threads", str(args.threads)] if args.threads else []))
            subprocess.run(cmd, env=env, check=True)
            with open(path) as f:
                results.append(json.load(f))
    text = render(results, command)
    os.makedirs(os.path.dirname(os.path.abspath(args.write)), exist_ok=True)
    with open(args.write, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
