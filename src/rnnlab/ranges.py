"""The range of every numeric setting, used for command-line flags and for a run's saved args.json.

    RANGES["epochs"] -> Range(kind="int", low=1, ...)
    flag_type("epochs")          an argparse ``type=`` that rejects values out of range
    CHOICES["optimizer"]         the values a setting with a fixed set of values takes
    check_settings(settings, where)  every known key of a settings dict, naming ``where`` and the key
"""
import argparse
import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    kind: str                       # "int" or "float"
    low: float | None = None
    high: float | None = None
    low_open: bool = False          # low itself is not allowed
    high_open: bool = False

    def describe(self):
        what = "an integer" if self.kind == "int" else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
        return f"{what} {' and '.join(parts)}".strip()

    def check(self, value):
        """``value`` converted to the kind, or ValueError with what was expected."""
        if isinstance(value, bool):
            raise ValueError(f"must be {self.describe()}, got {value!r}")
        if isinstance(value, str):
            try:
                value = int(value) if self.kind == "int" else float(value)
            except ValueError:
                raise ValueError(f"must be {self.describe()}, got {value!r}") from None
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise ValueError(f"must be {self.describe()}, got {value!r}")
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be {self.describe()}, got {value!r}")
        low_bad = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        high_bad = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if low_bad or high_bad:
            raise ValueError(f"must be {self.describe()}, got {value!r}")
        return value


def _fmt(x):
    return f"{x:,}" if isinstance(x, int) and x >= 100000 else f"{x:g}"


MAX_SIZE = 65536          # hidden / embedding sizes; larger ones are refused before any allocation
RANGES = {
    "epochs": Range("int", 1, 1_000_000), "batch": Range("int", 1, 1_000_000), "bptt": Range("int", 1, 1_000_000),
    "hidden": Range("int", 1, MAX_SIZE), "layers": Range("int", 1, 64), "embed": Range("int", 1, MAX_SIZE),
    "char_embed": Range("int", 0, MAX_SIZE), "pca": Range("int", 0, MAX_SIZE), "limit": Range("int", 1),
    "seed": Range("int", 0, 2**32 - 1), "patience": Range("int", 0, 1_000_000),
    "lr_patience": Range("int", 0, 1_000_000), "lr_cooldown": Range("float", 0, 1, high_open=True),
    "lr": Range("float", 0, 10, low_open=True), "max_time": Range("float", 0, None, low_open=True),
    "clip": Range("float", 0), "subsample": Range("int", 1, 64), "save_every": Range("float", 0),
    "dropout": Range("float", 0, 1, high_open=True), "word_dropout": Range("float", 0, 1, high_open=True),
    "temperature": Range("float", 0, 100), "top_k": Range("int", 1), "top_p": Range("float", 0, 1, low_open=True),
    "length": Range("int", 1, 1_000_000), "beam": Range("int", 1, 100), "threads": Range("int", 1, 1024),
}


# settings with a fixed set of values (the flags' choices)
CHOICES = {"level": ["char", "word", "auto"], "optimizer": ["adam", "adamw", "sgd", "rmsprop", "adagrad"],
           "lr_schedule": ["plateau", "cosine", "step", "none"], "pooling": ["last", "mean", "max"],
           "init": ["state", "input", "both"], "mode": ["pianoroll", "melody"],
           "attention": ["luong", "bahdanau", "none"], "features": ["mfcc", "logmel"]}


def flag_type(key):
    """An argparse type for the flag of ``key``: a bad value is one line naming the flag and the range."""
    r = RANGES[key]

    def parse(text):
        try:
            return r.check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = r.kind
    return parse


def help_range(key, text=""):
    """A flag's help with its range appended."""
    return f"{text} ({RANGES[key].describe()})".strip()


def check_settings(settings, where):
    """Every known key of a saved settings dict in range; ValueError naming ``where`` and the key."""
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: expected a JSON object of settings, got {type(settings).__name__}")
    for key, value in settings.items():
        if key in RANGES and value is not None:
            try:
                RANGES[key].check(value)
            except ValueError as e:
                raise ValueError(f"{where}: {key} {e}") from None
        if key in CHOICES and value is not None and value not in CHOICES[key]:
            raise ValueError(f"{where}: {key} must be one of {', '.join(CHOICES[key])}, got {value!r}")
    for key in ("task", "data"):
        if not isinstance(settings.get(key), str):
            raise ValueError(f"{where}: {key} must be a string, got {settings.get(key)!r}")


def check_memory(settings):
    """Refuse sizes whose weights, gradients and optimizer state alone would not fit in this machine's memory."""
    h, e = settings.get("hidden") or 0, settings.get("embed") or 0
    layers, dirs = settings.get("layers") or 1, 2 if settings.get("bidirectional") else 1
    weights = layers * dirs * 4 * h * (max(e, h * dirs) + h + 2)      # LSTM-sized recurrent weights
    # what BPTT keeps for a charlm chunk: gates, cell and hidden states of every step and layer
    activations = (settings.get("batch") or 1) * (settings.get("bptt") or 1) * layers * dirs * 6 * h
    need = (weights * 5 + activations * 2) * 4     # float32; weights, gradients, two Adam moments, resume copy
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ValueError(f"--hidden {h} --embed {e} --layers {layers} --batch {settings.get('batch')} needs about "
                         f"{need / 2**30:.0f} GiB for the recurrent weights, gradients, optimizer state and what "
                         f"BPTT keeps; this machine has {have / 2**30:.0f} GiB")
