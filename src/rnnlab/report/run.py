"""What a report reads from a run directory: settings, metrics, the trained model and its held-out data.

A run directory written by ``rnnlab train --out DIR`` holds ``args.json`` (the run's settings),
``config.json`` + ``model.safetensors`` (the best model), ``metrics.jsonl`` (one line per epoch)
and, once training ended, ``metrics.json``. The report rebuilds the run's task from its settings
(the same data, split and vocabulary as in training) and puts the trained model into it, so
every figure is drawn from the held-out part of the run's own data.
"""
import json
import os
from dataclasses import dataclass, field

from ..train.checkpoint import CheckpointError, read_json


@dataclass
class RunData:
    dir: str
    name: str                     # short label for legends: the folder's name
    settings: dict                # args.json
    config: dict                  # config.json: task, model class, model config, vocabulary ...
    history: list                 # metrics.jsonl, one dict per epoch
    final: dict | None            # metrics.json, or None while training goes on
    model: object
    task: object                  # the run's Task, rebuilt, holding the trained model
    extras: dict = field(default_factory=dict)

    @property
    def task_name(self):
        return self.config["task"]


def read_history(run_dir):
    """The per-epoch metrics of a run; an error when there are none yet."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no metrics yet (the run has not finished an epoch)")
    history = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                history.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise CheckpointError(f"{path}:{no}: not a JSON line ({e.msg})") from None
    if not history:
        raise CheckpointError(f"{path}: no metrics yet (the run has not finished an epoch)")
    return history


def load_run_data(run_dir):
    """RunData for a run directory; one-line CheckpointError/ValueError for anything that is not a run."""
    from ..tasks import check_run_keys, task_module
    from ..tasks.base import load_run

    if not os.path.isdir(run_dir):
        raise CheckpointError(f"{run_dir}: not a directory (a report needs a run directory of `rnnlab train`)")
    missing = [n for n in ("args.json", "config.json") if not os.path.exists(os.path.join(run_dir, n))]
    if missing:
        raise CheckpointError(f"{run_dir}: not a run directory (no {missing[0]}; "
                              f"train one with `rnnlab train TASK --out {run_dir}`)")
    settings = read_json(os.path.join(run_dir, "args.json"), "args.json (the run's settings)")
    history = read_history(run_dir)
    config, model = load_run(run_dir)
    check_run_keys(run_dir, config)
    final_path = os.path.join(run_dir, "metrics.json")
    final = read_json(final_path, "metrics.json") if os.path.exists(final_path) else None
    task = task_module(config["task"]).build(settings)
    task.model = model
    name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
    return RunData(run_dir, name, settings, config, history, final, model, task)
