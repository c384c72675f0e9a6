"""What every twin shares: the rnnlab config it was built from and conversion of NumPy inputs.

A twin's ``loss(...)`` takes exactly the arguments of its NumPy model's ``loss_and_grads``
(NumPy arrays or tensors) and returns ``(loss, state)``: a scalar tensor to call
``backward()`` on and, for a model that carries recurrent state (``carries_state``),
the detached final state (else None).
"""
import numpy as np
import torch
from torch import nn


class Twin(nn.Module):
    numpy_class = None        # the rnnlab.models class name this twin mirrors
    carries_state = False     # loss_and_grads returns (loss, grads, state) rather than (loss, grads)
    batch_axes = {}           # loss argument -> its batch axis (how torchrun splits a global batch)

    @staticmethod
    def loss_terms(config, call):
        """How many terms the loss of a call (its arguments by name) averages over."""
        raise NotImplementedError

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    def ids(self, x):
        """Token ids (or lengths, labels) as an int64 tensor on the twin's device."""
        return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.int64, device=self.device)

    def floats(self, x):
        """Real-valued inputs (frames, image features) as a tensor of the parameters' dtype and device."""
        return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=self.dtype, device=self.device)

    def state(self, s):
        """A carried state (h or (h, c), NumPy or torch) as detached tensors, or None."""
        if s is None:
            return None
        if isinstance(s, (tuple, list)):
            return tuple(self.floats(x).detach() for x in s)
        return self.floats(s).detach()


def detach_state(s):
    if s is None:
        return None
    return tuple(x.detach() for x in s) if isinstance(s, tuple) else s.detach()


def masked_cross_entropy(logits, targets, mask):
    """Mean cross-entropy over the positions where mask is True (0 when none is), as rnnlab.losses."""
    picked = logits[mask]
    if picked.shape[0] == 0:
        return logits.sum() * 0.0
    return nn.functional.cross_entropy(picked, targets[mask])
