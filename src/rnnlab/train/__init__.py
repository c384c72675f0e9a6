"""Training: the shared loop (Trainer, TrainConfig) and atomic safetensors checkpoints."""
from .checkpoint import CheckpointError
from .loop import TrainConfig, Trainer

__all__ = ["Trainer", "TrainConfig", "CheckpointError"]
