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


def check_engine(model, settings):
    """Refuse an engine this run cannot train with (before the run directory is claimed); True: rnnlab.torch's."""
    backend, device = settings.get("backend", "numpy"), settings.get("device", "cpu")
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numpy" and device != "cpu":
        raise ValueError(f"--device {device} needs --backend torch (the NumPy engine runs on the CPU)")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if backend == "numpy" and not distributed:
        return False
    require_torch("--backend torch" if backend == "torch" else "training under torchrun")
    from ..torch.convert import TWINS
    from ..torch.train import check_device

    check_device(device)
    name = type(model).__name__
    if backend == "torch" and name not in TWINS:
        raise ValueError(f"--backend torch: {name} has no PyTorch twin (known: {', '.join(sorted(TWINS))}); "
                         f"train it with --backend numpy")
    return True


def make_trainer(task, config, out, settings):
    backend, device = settings.get("backend", "numpy"), settings.get("device", "cpu")
    if not check_engine(task.model, settings):
        return Trainer(task, config, out)
    from ..torch.train import make_trainer as torch_trainer

    return torch_trainer(task, config, out, backend, device, settings.get("batch"))
