"""What every model shares: named submodules, one flat parameter dict, a dataclass config.

A model's ``params`` maps ``"<submodule>.<name>"`` (e.g. ``"rnn.weight_ih_l0"``)
to the submodules' live arrays, so an optimizer that updates ``model.params``
in place updates the layers. The config is a dataclass stored next to the
weights and rebuilt on load (see ``rnnlab.train.checkpoint``).
"""
import dataclasses

import numpy as np

from ..layers import GRU, LSTM, RNN
from ..layers.module import Module

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class Model(Module):
    config_class = None

    def __init__(self, config):
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.modules = {}
        self.params = {}
        self.frozen = set()   # parameter names the optimizer must not update

    def add(self, name, module):
        self.modules[name] = module
        for k, v in module.params.items():
            self.params[f"{name}.{k}"] = v
        return module

    def split_grads(self, name, grads):
        """Prefix a submodule's grads with its name, for the flat dict."""
        return {f"{name}.{k}": v for k, v in grads.items()}


def length_mask(lengths, T, dtype=bool):
    """(B, T) mask of the valid steps of right-padded sequences: step t of sequence b is valid if t < lengths[b]."""
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype(dtype, copy=False)


def config_dtype(config):
    """The NumPy dtype a config names ("float32" by default, "float64" for gradient checks)."""
    name = getattr(config, "dtype", "float32")
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def make_recurrent(cell, input_size, hidden, layers, bidirectional=False, dropout=0.0, dtype=np.float32, seed=None):
    """The recurrent layer named by ``cell`` ('rnn', 'lstm' or 'gru')."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional,
                       dropout=dropout, dtype=dtype, seed=seed)


def config_from_dict(cls, d, where="config"):
    """Rebuild a config dataclass, rejecting unknown keys and wrong types with one-line errors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(fields)}")
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = _coerce(k, v, fields[k].type, where)
    return cls(**kwargs)


def _coerce(key, value, typ, where):
    t = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    if value is None:
        return None
    if t in ("int",):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{where}: {key} must be an int, got {value!r}")
        return int(value)
    if t in ("float",):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if t in ("bool",):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if t in ("str",):
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be a string, got {value!r}")
        return value
    return value
