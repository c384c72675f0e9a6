"""Checks of the trainer state stored in a resume checkpoint's metadata, naming the file and key."""
from .checkpoint import CheckpointError

COUNT, NUMBER = "an integer >= 0", "a number >= 0"
# trainer key -> what it must be; loss_sum / loss_count are absent from checkpoints of earlier versions
TRAINER_KEYS = {"epoch": COUNT, "step_in_epoch": COUNT, "global_step": COUNT, "bad_epochs": COUNT,
                "elapsed": NUMBER, "history": "a list", "stopped": "true or false"}
OPTIONAL_KEYS = {"loss_sum": "a number", "loss_count": COUNT, "epoch_tokens": COUNT}


def _valid(value, what):
    if what == "a list":
        return isinstance(value, list)
    if what == "true or false":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if what == COUNT:
        return isinstance(value, int) and value >= 0
    return value >= 0 if what == NUMBER else True


def check_resume_meta(path, meta):
    """Raise CheckpointError naming ``path`` and the key when the metadata cannot be a trainer snapshot."""
    for key in ("trainer", "optim", "rng", "train_config"):
        if not isinstance(meta.get(key), dict):
            raise CheckpointError(f"{path}: metadata key {key!r} missing or not a dict "
                                  f"(not a resume checkpoint of this version)")
    trainer = meta["trainer"]
    checks = {**TRAINER_KEYS, **{k: v for k, v in OPTIONAL_KEYS.items() if k in trainer}}
    for key, what in checks.items():
        if not _valid(trainer.get(key), what):
            raise CheckpointError(f"{path}: metadata trainer.{key} must be {what}, got {trainer.get(key)!r}")
