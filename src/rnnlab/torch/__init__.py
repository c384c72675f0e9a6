"""PyTorch twins of rnnlab's models: the same architecture as ordinary torch.nn code, the same parameter names.

    from rnnlab.torch import to_torch, from_torch
    twin = to_torch(model)                 # torch.nn.Module; twin.state_dict() keys == model.params keys
    loss, state = twin.loss(*batch)        # the arguments of model.loss_and_grads; loss.backward()
    model = from_torch(twin)               # back to the NumPy model (light CPU inference)
    save(twin, "model.safetensors"); twin = load("model.safetensors")

TWINS maps a NumPy model's class name to its twin; ``register(TwinClass)`` adds one for a
model added later (a subclass of ``rnnlab.torch.base.Twin`` with ``numpy_class`` set).
This package needs the ``torch`` extra; nothing else in rnnlab imports torch.
"""
try:
    import torch
except ImportError as e:                                   # pragma: no cover - exercised in a subprocess
    raise ImportError("rnnlab.torch needs PyTorch: pip install 'rnnlab[torch]'") from e

from .convert import TWINS, from_torch, load, register, save, to_torch

__all__ = ["TWINS", "to_torch", "from_torch", "register", "save", "load"]
