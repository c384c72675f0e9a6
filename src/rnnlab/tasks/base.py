"""What the trainer needs from a task, and saving/loading a trained model directory.

A task owns its data, its model and its metrics. The trainer calls:

    initial_carry() / carry_to_arrays(carry) / carry_from_arrays(arrays)
    train_batches(epoch) -> list            deterministic for (seed, epoch)
    train_step(batch, carry, rng) -> loss, grads, carry, n_tokens
    evaluate(split) -> metrics dict         includes the ``monitor`` key
    save_model(out, best) / load_best(out) / final_metrics()

A trained model directory holds ``config.json`` (task, model class, model config,
vocabulary, labels) and ``model.safetensors``; ``load_run`` rebuilds the task's
model from them for generate/predict/evaluate.
"""
import dataclasses
import os

from ..models import MODELS
from ..models.base import config_from_dict
from ..train.checkpoint import CheckpointError, atomic_write_json, check_weights, load_arrays, read_json, save_arrays


class Task:
    name = None
    monitor = ("val_loss", "min")
    tiebreak = None                 # a validation loss key that decides between epochs tied on ``monitor``
    # what the plateau schedule watches, when not ``monitor``: a validation loss, smooth where a
    # metric over a few hundred held-out examples moves in steps and would cut the rate on noise
    schedule_monitor = None

    def __init__(self, model, extra):
        self.model = model
        self.extra = extra          # JSON-able: vocabulary, labels, data description

    # carried state between batches (language models); none by default
    def initial_carry(self):
        return None

    def carry_to_arrays(self, carry):
        return {}

    def carry_from_arrays(self, arrays):
        return None

    # saving
    def run_config(self):
        return {"task": self.name, "model": type(self.model).__name__,
                "config": dataclasses.asdict(self.model.config), **self.extra}

    def save_model(self, out, best):
        atomic_write_json(os.path.join(out, "config.json"), self.run_config())
        if best:
            save_arrays(os.path.join(out, "model.safetensors"), self.model.params, {"task": self.name})

    def load_best(self, out):
        path = os.path.join(out, "model.safetensors")
        arrays, _ = load_arrays(path)
        check_weights(path, self.model, arrays)
        self.model.load_state_dict(arrays)


def check_run_config(path, run):
    """config.json's required keys and their types; CheckpointError naming the file and key."""
    from . import TASKS

    if not isinstance(run, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(run).__name__}")
    for key, typ, known in (("task", str, TASKS), ("model", str, MODELS), ("config", dict, None)):
        if key not in run:
            raise CheckpointError(f"{path}: missing key {key!r}")
        if not isinstance(run[key], typ):
            raise CheckpointError(f"{path}: key {key!r} must be a {'string' if typ is str else 'JSON object'}, "
                                  f"got {run[key]!r}")
        if known is not None and run[key] not in known:
            raise CheckpointError(f"{path}: key {key!r}: unknown {key} {run[key]!r} (known: {', '.join(known)})")


def load_run(out):
    """(run config dict, model with the saved weights) from a trained model directory."""
    if not os.path.isdir(out):
        raise CheckpointError(f"{out}: not a model directory (train one with `rnnlab train ... --out {out}`)")
    cfg_path = os.path.join(out, "config.json")
    run = read_json(cfg_path, "config.json")
    check_run_config(cfg_path, run)
    cls = MODELS[run["model"]]
    try:
        config = config_from_dict(cls.config_class, run["config"], where=cfg_path)
    except (KeyError, TypeError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise CheckpointError(msg if msg.startswith(cfg_path) else f"{cfg_path}: config: {msg}") from None
    model = cls(config)
    path = os.path.join(out, "model.safetensors")
    arrays, _ = load_arrays(path)
    check_weights(path, model, arrays)
    model.load_state_dict(arrays)
    return run, model


def fill_by_size(settings, size, rules):
    """Fill the settings the user left unset (None) from size rules, in place; returns ``settings``.

    ``rules`` maps a setting to ``[(limit, value), ..., (None, value)]``: the first entry whose
    limit exceeds ``size`` (the training set's size, in the unit the task states) gives the
    value, and the last entry, limit None, covers everything larger. A value the user gave
    is kept as it is. Training writes the filled settings to OUT/args.json.
    """
    for key, steps in rules.items():
        if settings.get(key) is None:
            settings[key] = next(value for limit, value in steps if limit is None or size < limit)
    return settings
