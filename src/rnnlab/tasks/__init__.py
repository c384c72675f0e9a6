"""Tasks reachable from the command line, and the glue between flags, data, models and the trainer.

Each task module provides DEFAULTS (its flag defaults), ``build(settings) -> Task``
and, as it applies, ``generate(run, model, args)``, ``predict(run, model, inputs, args)``
and ``evaluate(run, model, data)``.
"""
import dataclasses
import importlib
import os

from ..train.backends import is_writer, make_trainer
from ..train.checkpoint import atomic_write_json, read_json
from ..train.loop import TrainConfig
from .base import load_run

TASKS = {"charlm": "charlm", "classify": "classify", "tag": "tag", "seq2seq": "seq2seq",
         "music": "music", "caption": "caption"}

# flags every task understands; the task's DEFAULTS fills what the user left out
COMMON = {"epochs": 10, "max_time": None, "lr": 2e-3, "optimizer": "adam", "clip": 5.0, "patience": 5,
          "lr_schedule": "plateau", "seed": 0, "save_every": 60.0, "limit": None, "data": None,
          "backend": "numpy", "device": "cpu"}


def task_module(name):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    try:
        return importlib.import_module(f".{TASKS[name]}", __name__)
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{TASKS[name]}":
            raise ValueError(f"task {name!r} is not available in this version") from None
        raise


def settings_from_args(args):
    """The full settings dict of a training run: task defaults overridden by the given flags."""
    mod = task_module(args.task)
    settings = {**COMMON, **mod.DEFAULTS, "task": args.task}
    for key in list(settings):
        v = getattr(args, key, None)
        if v is not None:
            settings[key] = v
    unknown_flags = [k for k in ("level", "cell", "hidden", "layers", "bidirectional", "embed", "dropout", "batch", "bptt",
                                 "pooling", "pretrained", "freeze_embeddings", "crf", "attention", "mode", "init", "pca", "char_embed")
                     if getattr(args, k, None) is not None and k not in settings]
    if unknown_flags:
        raise ValueError(f"task {args.task!r} does not take --{unknown_flags[0].replace('_', '-')}")
    return settings


def train(args):
    if args.resume:
        out = args.resume
        settings = read_json(os.path.join(out, "args.json"), "args.json (the run's settings)")
        settings.update({k: getattr(args, k) for k in ("backend", "device") if getattr(args, k, None)})
        resume = True
    else:
        if not args.task:
            raise ValueError("train needs a TASK (charlm, classify, ...) or --resume OUT")
        settings = settings_from_args(args)
        out = args.out or os.path.join("runs", args.task)
        resume = False
    mod = task_module(settings["task"])
    task = mod.build(settings)
    if not resume and is_writer():
        os.makedirs(out, exist_ok=True)
        atomic_write_json(os.path.join(out, "args.json"), settings)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    tcfg = TrainConfig(**{k: v for k, v in settings.items() if k in fields})
    tcfg.progress = not getattr(args, "quiet", False)
    trainer = make_trainer(task, tcfg, out, settings)     # NumPy, or rnnlab.torch (--backend torch, torchrun)
    return trainer.fit(resume=resume)


def _load(out):
    run, model = load_run(out)
    return run, model, task_module(run["task"])


def generate(args):
    run, model, mod = _load(args.dir)
    if not hasattr(mod, "generate"):
        raise ValueError(f"{args.dir}: a {run['task']} model does not generate; use `rnnlab predict`")
    return mod.generate(run, model, args)


def predict(out, inputs, args=None):
    run, model, mod = _load(out)
    if not hasattr(mod, "predict"):
        raise ValueError(f"{out}: a {run['task']} model does not predict; use `rnnlab generate`")
    return mod.predict(run, model, inputs, args)


def evaluate(out, data=None, beam=None):
    """Metrics of the model in ``out`` on its held-out split (or on ``data``); ``beam`` for decoders."""
    run, model, mod = _load(out)
    settings_path = os.path.join(out, "args.json")
    settings = read_json(settings_path, "args.json") if os.path.exists(settings_path) else {}
    if beam is not None:
        if beam < 1:
            raise ValueError(f"--beam must be >= 1, got {beam}")
        settings = {**settings, "beam": beam}
    return mod.evaluate(run, model, settings, data)


__all__ = ["train", "generate", "predict", "evaluate", "TASKS"]
