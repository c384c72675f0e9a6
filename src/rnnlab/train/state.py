"""Checks of the trainer state stored in a resume checkpoint's metadata, naming the file and key."""
from .checkpoint import CheckpointError

# key -> (types, smallest value or None)
TRAINER_KEYS = {"epoch": (int, 0), "step_in_epoch": (int, 0), "global_step": (int, 0), "elapsed": ((int, float), 0),
                "bad_epochs": (int, 0), "history": (list, None), "stopped": (bool, None)}


def check_resume_meta(path, meta):
    """Raise CheckpointError naming ``path`` and the key when the metadata cannot be a trainer snapshot."""
    for key, typ in (("trainer", dict), ("optim", dict), ("rng", dict), ("train_config", dict)):
        if not isinstance(meta.get(key), typ):
            raise CheckpointError(f"{path}: metadata key {key!r} missing or not a {typ.__name__} "
                                  f"(not a resume checkpoint of this version)")
    trainer = meta["trainer"]
    for key, (types, low) in TRAINER_KEYS.items():
        v = trainer.get(key)
        if isinstance(v, bool) and types is not bool:
            v = None
        if not isinstance(v, types) or (low is not None and v < low):
            raise CheckpointError(f"{path}: metadata trainer.{key} must be "
                                  f"{'a number >= 0' if low is not None else 'a ' + getattr(types, '__name__', 'value')}"
                                  f", got {trainer.get(key)!r}")
    for key in ("loss_sum", "loss_count"):
        if key in trainer and (isinstance(trainer[key], bool) or not isinstance(trainer[key], (int, float))):
            raise CheckpointError(f"{path}: metadata trainer.{key} must be a number, got {trainer[key]!r}")
