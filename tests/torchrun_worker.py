"""A few training steps of charlm, classify and speech (CTC) in float64, with each backend, on one process
or under torchrun.

    torchrun --nproc_per_node 2 tests/torchrun_worker.py OUT TEXT CSV

Each (task, backend) run writes OUT/<task>-<backend>/resume.safetensors (rank 0 only; kept); the
single-process reference calls ``run`` directly. Then the command line itself trains a
float32 classifier into OUT/cli, as ``torchrun -m rnnlab train ...`` would.
"""
import dataclasses
import os
import sys

from rnnlab.tasks import COMMON, task_module
from rnnlab.train import TrainConfig
from rnnlab.train.backends import make_trainer


def run(task, backend, data, out):
    mod = task_module(task)
    size = {"charlm": {"limit": 700, "batch": 4, "bptt": 8, "layers": 2},
            "classify": {"batch": 8, "layers": 1, "bidirectional": True, "cell": "gru"},
            "speech": {"limit": 40, "batch": 8, "layers": 1, "subsample": 2}}[task]
    s = {**COMMON, **mod.DEFAULTS, "task": task, "data": data, "backend": backend, "hidden": 6, "embed": 4,
         "dropout": 0.0, **size}
    t = mod.build(s)
    trained = t.model
    t.model = type(trained)(dataclasses.replace(trained.config, dtype="float64"))   # float64 for exact sums
    for name in trained.frozen & set(trained.params):           # what the task set and training keeps (speech's norm)
        t.model.params[name][...] = trained.params[name]
    cfg = TrainConfig(epochs=1, lr=0.01, clip=1.0, patience=0, lr_schedule="none", seed=0, save_every=1e9,
                      progress=False, keep_resume=True)
    make_trainer(t, cfg, os.path.join(out, f"{task}-{backend}"), s).fit()


if __name__ == "__main__":
    out, text, csv = sys.argv[1:4]
    for backend in ("numpy", "torch"):
        run("charlm", backend, text, out)
        run("classify", backend, csv, out)
        run("speech", backend, "spoken_digits", out)
    from rnnlab.cli import main

    sys.exit(main(["--threads", "1", "train", "classify", "--data", csv, "--hidden", "6", "--embed", "4", "--epochs",
                   "1", "--batch", "8", "--quiet", "--out", os.path.join(out, "cli")]))
