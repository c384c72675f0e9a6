"""``rnnlab train ... --backend torch``: rnnlab's own training loop with the step in PyTorch.

The task, data, splits, batch order, metrics, early stopping, progress bar and files are
the NumPy trainer's (rnnlab.train.Trainer, unchanged). Only the step moves to torch:

- the task's ``train_step`` calls ``model.loss_and_grads(...)``; here that call runs the
  model's twin (rnnlab.torch) forward and backward in torch instead, and returns no NumPy
  gradients: they are in the twin's ``.grad``;
- the optimizer is a TorchOptimizer: torch.optim with the same rule and hyperparameters,
  clipping in torch, and rnnlab's checkpoint format for its state.

On the CPU the twin's parameters are the NumPy model's arrays (zero-copy), so evaluation,
checkpoints and saved models see every step with no copy; on a GPU the weights are copied
back to the NumPy model before each evaluation and save. Dropout masks come from torch's
generator, seeded once per step from the trainer's generator, so a resumed run draws the
same masks as an uninterrupted one. Under torchrun the twin is wrapped in
DistributedDataParallel and each rank takes its share of every batch (rnnlab.torch.distributed).
"""
import contextlib
import functools
import os
import re

import torch
from torch.nn.parallel import DistributedDataParallel

from .convert import to_torch
from .distributed import Group, NumpyDistributedTrainer, RankedTrainer, _as_numpy, bind, guard, world_size
from .optim import TorchOptimizer


class _Loss(torch.nn.Module):
    """The twin's loss as a module's forward, which is what DistributedDataParallel wraps."""

    def __init__(self, twin):
        super().__init__()
        self.twin = twin

    def forward(self, call):
        return self.twin.loss(**call)


class TorchTrainer(RankedTrainer):
    """rnnlab's Trainer with model.loss_and_grads run by the twin and a TorchOptimizer (see the module docstring)."""

    finishing = False         # set by finish(): the NumPy model then holds the best weights, not the twin's

    def __init__(self, task, config, out, device="cpu", group=None, share=None):
        super().__init__(task, config, out, group)
        model = task.model
        self.device = torch.device(device)
        # share: the twin's parameters are the NumPy arrays (CPU); else copies, synced before use
        self.shared = self.device.type == "cpu" if share is None else share
        self.twin = to_torch(model, self.device, share=self.shared)
        self.opt = TorchOptimizer(self.twin, model, config, reference=self.opt)   # the NumPy one checks
        if self.schedule is not None:
            self.schedule.optimizer = self.opt
        self.module = _Loss(self.twin)
        if group is not None:
            self.module = DistributedDataParallel(self.module, device_ids=[self.device] if device != "cpu" else None)
        self.numpy_step = model.loss_and_grads
        model.loss_and_grads = self._loss_and_grads
        if not self.shared:
            task.evaluate = self._synced(task.evaluate)
            task.save_model = self._synced(task.save_model)

    def _loss_and_grads(self, *args, training=True, rng=None, **kwargs):
        call = bind(self.numpy_step, args, kwargs)
        weight = 1.0
        if self.group is not None:
            model = self.task.model
            call, weight = self.group.shard(type(model).__name__, model.config, call)
        torch.manual_seed(self.step_seed(rng if rng is not None else self.rng))
        self.twin.train(training)
        self.opt.zero_grad()
        with guard() if self.group else contextlib.nullcontext():   # DDP's collectives: forward and backward
            loss, state = self.module(call)
            # DDP averages over ranks: weight * world makes that the terms-weighted sum
            (loss * (weight * self.group.world if self.group else 1.0)).backward()
        value = loss.item()
        if self.group is not None:
            value = self.group.sum_scalar(value * weight)
            state = self.group.gather_rows(state)
        out = (value, {})
        return out + ((_as_numpy(state),) if self.twin.carries_state else ())

    # ------------------------------------------------------------------ weights on a GPU
    def pull(self):
        """Copy the twin's weights into the NumPy model (a no-op when they share memory)."""
        if not self.shared:
            with torch.no_grad():
                for name, p in self.twin.named_parameters():
                    self.task.model.params[name][...] = p.detach().cpu().numpy()

    def push(self):
        if not self.shared:
            with torch.no_grad():
                for name, p in self.twin.named_parameters():
                    p.copy_(torch.from_numpy(self.task.model.params[name]))

    def _synced(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            if not self.finishing:
                self.pull()
            return fn(*args, **kwargs)
        return run

    def finish(self):
        """The final metrics are those of the best weights, which finish() loads into the NumPy model."""
        self.pull()
        self.finishing = True
        return super().finish()

    def save_resume(self):
        self.pull()
        super().save_resume()

    def load_resume(self):
        super().load_resume()
        self.push()


def check_device(device):
    """'cpu' or 'cuda[:N]' that this machine has, else ValueError (one line)."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", str(device)):
        raise ValueError(f"--device must be cpu or cuda (or cuda:N), got {device!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here (torch {torch.__version__}, "
                         f"torch.cuda.is_available() is False); use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"numbered from 0")
    return str(dev)


def _match_threads():
    """torch's intra-op threads = the NumPy BLAS's (what --threads set), so both engines share the cores alike."""
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    if blas:
        torch.set_num_threads(max(1, min(blas)))


def make_trainer(task, config, out, backend, device, batch=None):
    """The trainer for --backend numpy|torch, on one process or under torchrun."""
    device = check_device(device)
    _match_threads()
    group = None
    if world_size() > 1:
        W = world_size()
        if batch is not None and batch % W:
            raise ValueError(f"--batch {batch} is not divisible by the {W} processes torchrun started: "
                             f"every rank takes an equal share of each global batch")
        if config.max_time is not None:
            raise ValueError("--max-time is not supported under torchrun (ranks would stop at different steps); "
                             "use --epochs")
        if device.startswith("cuda"):                   # one GPU per process on each machine
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(device)
        group = Group.join(device)
    if backend == "numpy":
        return NumpyDistributedTrainer(task, config, out, group)
    return TorchTrainer(task, config, out, device, group)
