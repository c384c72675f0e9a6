"""Which engine trains: the NumPy core on one process, or rnnlab.torch (``--backend torch``, torchrun).

Nothing here imports torch unless the run asks for it, and a run that asks for it on a
machine without PyTorch stops with one line naming the extra to install.
"""
import os

from .loop import Trainer

BACKENDS = ("numpy", "torch")


def is_writer():
    """Rank 0 of a torchrun job, or a single process: the one that writes the run's files."""
    return int(os.environ.get("RANK", "0")) == 0


def require_torch(what):
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError(f"{what} needs PyTorch: pip install 'rnnlab[torch]'") from None


def make_trainer(task, config, out, settings):
    backend, device = settings.get("backend", "numpy"), settings.get("device", "cpu")
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numpy" and device != "cpu":
        raise ValueError(f"--device {device} needs --backend torch (the NumPy engine runs on the CPU)")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if backend == "numpy" and not distributed:
        return Trainer(task, config, out)
    require_torch("--backend torch" if backend == "torch" else "training under torchrun")
    from ..torch.train import make_trainer as torch_trainer

    return torch_trainer(task, config, out, backend, device, settings.get("batch"))
