"""Tasks reachable from the command line, and the glue between flags, data, models and the trainer.

Each task module provides DEFAULTS (its flag defaults), ``build(settings) -> Task``
and, as it applies, ``generate(run, model, args)``, ``predict(run, model, inputs, args)``
and ``evaluate(run, model, data)``.
"""
import dataclasses
import importlib
import os

from ..ranges import check_memory, check_settings
from ..train.backends import is_writer, make_trainer
from ..train.checkpoint import CheckpointError, atomic_write_json, read_json
from ..train.loop import TrainConfig
from ..train.rundir import check_run_dir, claim_run_dir, restore_previous_run
from .base import load_run
from .datafile import check_data_unchanged, data_fingerprint, resolve_data_path

TASKS = {"charlm": "charlm", "classify": "classify", "tag": "tag", "seq2seq": "seq2seq",
         "music": "music", "caption": "caption", "speech": "speech"}

# flags every task understands; the task's DEFAULTS fills what the user left out
COMMON = {"epochs": 10, "max_time": None, "lr": 2e-3, "optimizer": "adam", "clip": 5.0, "patience": 5,
          "lr_schedule": "plateau", "lr_patience": 0, "lr_cooldown": 0.4, "seed": 0, "save_every": 60.0, "limit": None, "data": None,
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
                                 "pooling", "word_dropout", "pretrained", "freeze_embeddings", "crf", "attention", "mode", "init", "pca", "char_embed",
                                 "subsample", "features", "lexicon")
                     if getattr(args, k, None) is not None and k not in settings]
    if unknown_flags:
        raise ValueError(f"task {args.task!r} does not take --{unknown_flags[0].replace('_', '-')}")
    if getattr(args, "max_time", None) is not None and getattr(args, "epochs", None) is None:
        settings["epochs"] = None          # a time budget without --epochs: no epoch cap
    if getattr(args, "lr_patience", None) is not None and settings["lr_schedule"] != "plateau":
        raise ValueError(f"--lr-patience is for --lr-schedule plateau; this run's schedule is {settings['lr_schedule']}")
    if getattr(args, "lr_cooldown", None) is not None and settings["max_time"] is None:
        raise ValueError("--lr-cooldown is a fraction of the --max-time budget; give --max-time too")
    if settings["epochs"] is None and settings["lr_schedule"] == "cosine":
        raise ValueError("--lr-schedule cosine decays over a known number of epochs: give --epochs too")
    settings["data"] = resolve_data_path(settings["data"])
    check_memory(settings)
    return settings


# flags that would change a run's settings; --resume takes them from OUT/args.json
RESUME_FIXED = ("data", "level", "cell", "hidden", "layers", "bidirectional", "char_embed", "embed", "dropout",
                "epochs", "max_time", "batch", "bptt", "lr", "optimizer", "clip", "patience", "lr_schedule", "lr_patience", "lr_cooldown",
                "pooling", "word_dropout", "pretrained", "freeze_embeddings", "crf", "init", "pca", "mode", "attention", "limit", "seed",
                "save_every", "out", "subsample", "features", "lexicon")


def read_settings(out):
    """The validated settings of the run in ``out`` (its args.json)."""
    path = os.path.join(out, "args.json")
    settings = read_json(path, "args.json (the run's settings)")
    try:
        check_settings(settings, path)
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    if settings["task"] not in TASKS:
        raise CheckpointError(f"{path}: task {settings['task']!r} is not one of {', '.join(TASKS)}")
    return settings


def train(args):
    if args.resume:
        out = args.resume
        given = [k for k in RESUME_FIXED if getattr(args, k, None) not in (None, False)]
        if getattr(args, "overwrite", False):
            given.insert(0, "overwrite")
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ValueError(f"--resume continues the run with the settings saved in {out}/args.json; {flag} cannot "
                             f"change them (start a new run with --out to train with other settings)")
        if not os.path.isdir(out):
            raise CheckpointError(f"{out}: no such run directory to resume")
        settings = read_settings(out)
        settings.setdefault("lr_cooldown", 0.0)        # a run saved before the cooldown existed trains without it
        if args.task and args.task != settings["task"]:
            raise ValueError(f"--resume {out}: that run trains {settings['task']!r}, not {args.task!r}")
        check_data_unchanged(settings, os.path.join(out, "args.json"))
        # the engine may change on resume (same weights, same update rules): numpy <-> torch, cpu <-> cuda
        settings.update({k: getattr(args, k) for k in ("backend", "device") if getattr(args, k, None)})
        resume = True
    else:
        if not args.task:
            raise ValueError("train needs a TASK (charlm, classify, ...) or --resume OUT")
        settings = settings_from_args(args)
        out = args.out or os.path.join("runs", args.task)
        check_run_dir(out, overwrite=getattr(args, "overwrite", False))    # before the data is read
        resume = False
    mod = task_module(settings["task"])
    task = mod.build(settings)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    tcfg = TrainConfig(**{k: v for k, v in settings.items() if k in fields})
    tcfg.progress = not getattr(args, "quiet", False)
    tcfg.keep_resume = bool(getattr(args, "keep_resume", False))
    tcfg.compile_in_background = True
    # NumPy, or rnnlab.torch (--backend torch, torchrun); its engine checks run first, so a refused run writes
    # nothing, and under torchrun every rank has joined before rank 0 claims the run directory
    trainer = make_trainer(task, tcfg, out, settings)
    if not resume and is_writer():
        claim_run_dir(out, overwrite=getattr(args, "overwrite", False))
        fingerprint = data_fingerprint(settings["data"])
        atomic_write_json(os.path.join(out, "args.json"), {**settings, **fingerprint})
    try:
        return trainer.fit(resume=resume)
    except Exception:
        restore_previous_run(out)     # a replaced run comes back if this one failed before its first model
        raise


def default_threads(args):
    """BLAS threads when --threads is not given: 1, except all cores (None) for hidden sizes from 512 on a machine
    whose load average is below half its cores. Measured on 2 cores under load ~6: a 2-layer LSTM step (B 32, T 64)
    took 102 / 319 / 1118 ms with one thread and 596 / 1909 / 4736 ms with two at hidden 128 / 256 / 512."""
    hidden = None
    if getattr(args, "command", None) == "train" and getattr(args, "task", None) in TASKS and not args.resume:
        hidden = args.hidden if args.hidden is not None else task_module(args.task).DEFAULTS.get("hidden")
    elif getattr(args, "dir", None):
        try:
            hidden = read_json(os.path.join(args.dir, "config.json"), "config.json")["config"]["hidden"]
        except (CheckpointError, KeyError, TypeError):
            hidden = None
    busy = os.getloadavg()[0] >= (os.cpu_count() or 1) / 2 if hasattr(os, "getloadavg") else True
    return 1 if busy or not isinstance(hidden, int) or hidden < 512 else None


# what each task's config.json must hold besides task, model and config
RUN_KEYS = {"charlm": ("vocab",), "classify": ("vocab", "labels"), "tag": ("vocab", "labels"),
            "seq2seq": ("corpus", "src_vocab", "tgt_vocab", "max_len"), "music": ("mode", "data"),
            "caption": ("vocab", "image_size", "max_len", "length_penalty"),
            "speech": ("labels", "level", "features", "data", "seed")}


def check_run_keys(out, run):
    """CheckpointError naming config.json and the first key this task's run lacks."""
    missing = [k for k in RUN_KEYS.get(run["task"], ()) if k not in run]
    if missing:
        raise CheckpointError(f"{os.path.join(out, 'config.json')}: missing key {missing[0]!r} of a {run['task']} run")


def _load(out):
    run, model = load_run(out)
    check_run_keys(out, run)
    return run, model, task_module(run["task"])


def _refuse_unused(run, flag, value, tasks):
    """A flag that would do nothing for this model is an error, not silently ignored."""
    if value not in (None, False) and run["task"] not in tasks:
        raise ValueError(f"{flag} does nothing for a {run['task']} model (it applies to {' and '.join(tasks)} models)")


def generate(args):
    run, model, mod = _load(args.dir)
    if not hasattr(mod, "generate"):
        raise ValueError(f"{args.dir}: a {run['task']} model does not generate; use `rnnlab predict`")
    if args.output is not None and run["task"] != "music":
        raise ValueError(f"--output does nothing for a {run['task']} model: its text goes to stdout "
                         f"(redirect it: > FILE)")
    return mod.generate(run, model, args)


def predict(out, inputs, args=None):
    return list(predict_stream(out, [inputs], args))


def predict_stream(out, batches, args=None):
    """Predictions for each batch of inputs in turn, with one model load: stdin is answered line by line."""
    run, model, mod = _load(out)
    if not hasattr(mod, "predict"):
        raise ValueError(f"{out}: a {run['task']} model does not predict; use `rnnlab generate`")
    _refuse_unused(run, "--beam", getattr(args, "beam", None), ("seq2seq", "caption", "speech"))
    _refuse_unused(run, "--show-attention", getattr(args, "show_attention", None), ("seq2seq",))
    for inputs in batches:
        yield from mod.predict(run, model, inputs, args)


def evaluate(out, data=None, beam=None):
    """Metrics of the model in ``out`` on its held-out split (or on ``data``); ``beam`` for decoders."""
    run, model, mod = _load(out)
    settings_path = os.path.join(out, "args.json")
    if os.path.exists(settings_path):
        settings = read_settings(out)
    elif data is None:
        raise CheckpointError(f"{settings_path} not found: without it the held-out split of the training data is "
                              f"unknown; give the data to score with --data")
    else:
        settings = {}
    _refuse_unused(run, "--beam", beam, ("seq2seq", "caption", "speech"))
    if beam is not None:
        settings = {**settings, "beam": beam}
    return mod.evaluate(run, model, settings, data)


__all__ = ["train", "generate", "predict", "evaluate", "TASKS"]
