"""Moving a model between rnnlab (NumPy) and its PyTorch twin, and twin files.

A twin file is safetensors (never pickle): the state_dict, and in its metadata the
model class and config, so ``load`` rebuilds the twin without the run directory.
"""
import dataclasses
import json

import numpy as np
import torch

from ..models import MODELS
from ..models.base import config_from_dict
from ..train.checkpoint import CheckpointError, atomic_write_bytes
from .decoders import CaptionerTwin, Seq2SeqTwin, SequenceTaggerTwin
from .models import (BagOfVectorsTwin, DocVectorClassifierTwin, LanguageModelTwin, PianoRollModelTwin,
                     SequenceClassifierTwin)
from .speech import SpeechRecognizerTwin

TWINS = {}


def register(twin_class):
    """Make ``to_torch`` handle the NumPy model class named ``twin_class.numpy_class``."""
    if not twin_class.numpy_class:
        raise ValueError(f"{twin_class.__name__} must set numpy_class (the rnnlab model it mirrors)")
    TWINS[twin_class.numpy_class] = twin_class
    return twin_class


for _cls in (LanguageModelTwin, SequenceClassifierTwin, BagOfVectorsTwin, SequenceTaggerTwin, Seq2SeqTwin,
             PianoRollModelTwin, CaptionerTwin, SpeechRecognizerTwin, DocVectorClassifierTwin):
    register(_cls)


def _twin_class(name):
    if name not in TWINS:
        raise ValueError(f"no PyTorch twin for {name}; known: {sorted(TWINS)} (add one with rnnlab.torch.register)")
    return TWINS[name]


def _torch_dtype(np_dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(np_dtype)]


def to_torch(model, device="cpu", share=False):
    """The twin of an rnnlab model, with its weights (and dtype) on ``device``.

    ``share=True`` (CPU only) makes the twin's parameters views of the NumPy arrays: an
    optimizer step in torch then updates the NumPy model in place, with no copy.
    """
    cls = _twin_class(type(model).__name__)
    # the dtype of the trained weights (frozen arrays, such as Doc2Vec's float32 ones, may differ)
    first = next((a for k, a in model.params.items() if k not in model.frozen), next(iter(model.params.values())))
    twin = cls(dataclasses.replace(model.config)).to(dtype=_torch_dtype(first.dtype))
    names = dict(twin.named_parameters())
    missing, extra = sorted(set(model.params) - set(names)), sorted(set(names) - set(model.params))
    if missing or extra:
        raise ValueError(f"{cls.__name__} does not mirror {type(model).__name__}: parameters only in rnnlab "
                         f"{missing}, only in the twin {extra}")
    if share and torch.device(device).type != "cpu":
        raise ValueError("share=True needs device='cpu' (a GPU tensor cannot view NumPy memory)")
    with torch.no_grad():
        for name, p in names.items():
            a = model.params[name]
            if tuple(p.shape) != a.shape:
                raise ValueError(f"{cls.__name__}.{name} has shape {tuple(p.shape)}, rnnlab's {a.shape}")
            p.data = torch.from_numpy(a) if share else torch.from_numpy(a.copy())
    return twin.to(device)


def from_torch(module):
    """The rnnlab model of a twin, with the twin's weights (copied to host memory) and dtype."""
    cls = MODELS[module.numpy_class]
    dtype = {torch.float32: "float32", torch.float64: "float64"}[module.dtype]
    config = dataclasses.replace(module.config)
    fields = {f.name for f in dataclasses.fields(config)}
    model = cls(dataclasses.replace(config, dtype=dtype)) if "dtype" in fields else cls(config, dtype=np.dtype(dtype))
    model.load_state_dict({k: v.detach().cpu() for k, v in module.state_dict().items()})
    return model


def save(module, path, extra=None):
    """Write a twin (state_dict + model class + config, + ``extra`` strings) to one safetensors file, atomically."""
    from safetensors.torch import save as st_save

    meta = {**(extra or {}), "model": module.numpy_class,
            "config": json.dumps(dataclasses.asdict(module.config), sort_keys=True)}
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, st_save(state, metadata=meta))


def load(path, device="cpu"):
    """Rebuild the twin written by ``save`` (or ``rnnlab export --format torch``)."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except Exception as e:  # noqa: BLE001 - any parse failure means a corrupt file
        raise CheckpointError(f"{path}: not a twin file ({' '.join(str(e).split())[:160]})") from None
    if "model" not in meta or "config" not in meta:
        raise CheckpointError(f"{path}: no rnnlab model/config in the metadata (not written by rnnlab.torch.save)")
    cls = _twin_class(meta["model"])
    config = config_from_dict(MODELS[meta["model"]].config_class, json.loads(meta["config"]), where=path)
    twin = cls(config)
    first = state.get(next(iter(twin.state_dict())), next(iter(state.values())))   # the twin's first parameter
    twin = twin.to(first.dtype)
    try:
        twin.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not match {cls.__name__} ({' '.join(str(e).split())[:200]})") \
            from None
    return twin.to(device)
