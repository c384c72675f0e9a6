"""Data-parallel training under torchrun: every rank takes an equal, contiguous share of each global batch.

    torchrun --nproc_per_node 2 -m rnnlab train classify ...                    (gloo on CPU)

The global batch is the one a single process would train on (same data, order, batch
size); rank r computes the gradients of rows [r B/W, (r+1) B/W). A model's loss is a
mean over its terms (tokens, frames, sentences), so each rank's gradient is weighted by
its share of the terms, n_r / N, and the weighted gradients are summed across ranks:
exactly the gradient of the global batch. Every rank then takes the same optimizer
step, so the weights stay identical without being sent.

- ``--backend numpy``: the NumPy engine computes each shard's gradients, which are summed
  with torch.distributed.all_reduce on zero-copy tensors over the NumPy arrays.
- ``--backend torch``: DistributedDataParallel over the twin (rnnlab.torch.train).

A carried recurrent state (a language model's) is gathered back to the whole batch after
every step, so each rank holds the state a single process would. Only rank 0 writes:
the others run the same trainer with their files in a private temporary directory.
"""
import contextlib
import dataclasses
import datetime
import inspect
import os
import shutil
import tempfile

import numpy as np
import torch
import torch.distributed as dist

from ..train.loop import Trainer
from .convert import _twin_class


def world_size():
    return int(os.environ.get("WORLD_SIZE", "1"))


class RankLost(ValueError):
    """Another rank stopped (killed, crashed, out of memory) or cannot be reached."""


@contextlib.contextmanager
def guard():
    """Turn a failed collective into one line: the peers are gone, the last checkpoint is intact."""
    try:
        yield
    except RuntimeError as e:
        with contextlib.suppress(Exception):     # let go of the broken connections now, not at exit
            dist.destroy_process_group()
        raise RankLost(f"another torchrun process stopped or cannot be reached ({' '.join(str(e).split())[:160]}); "
                       f"the run's last checkpoint is intact: continue it with torchrun ... train --resume OUT") \
            from None


class Group:
    """The process group of this run: world size, rank, and the collectives the trainers use."""

    def __init__(self, world, rank, device="cpu"):
        self.world, self.rank, self.device = world, rank, torch.device(device)

    @classmethod
    def join(cls, device):
        """This process's place in the torchrun job (gloo on CPU, NCCL on GPU), joining it on first use."""
        if not dist.is_initialized():
            backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=10))
        return cls(dist.get_world_size(), dist.get_rank(), device)

    # ------------------------------------------------------------------ sharding
    def shard(self, model_name, config, call):
        """A loss_and_grads call on the global batch -> (this rank's call, its weight n_r / N)."""
        twin = _twin_class(model_name)
        B = _batch_size(call, twin.batch_axes)
        lo, hi = self.rank * B // self.world, (self.rank + 1) * B // self.world
        total = twin.loss_terms(config, call)
        if hi == lo:                                    # fewer rows than ranks: run one row with weight 0
            return self._rows(call, twin, 0, 1), 0.0
        sub = self._rows(call, twin, lo, hi)
        return sub, (twin.loss_terms(config, sub) / total if total else 0.0)

    @staticmethod
    def _rows(call, twin, lo, hi):
        return {k: (_rows(v, twin.batch_axes[k], lo, hi) if k in twin.batch_axes else v) for k, v in call.items()}

    # ------------------------------------------------------------------ collectives
    def sum_arrays(self, arrays):
        """Sum float arrays across ranks in place (zero-copy tensors over them); returns the arrays."""
        out, works = [], []
        for a in arrays:
            a = a if a.flags.c_contiguous and a.flags.writeable else np.ascontiguousarray(a)
            out.append(a)
            with guard():
                works.append(dist.all_reduce(torch.from_numpy(a), async_op=True))
        with guard():
            failed = None
            for w in works:                             # wait for every one, so none is left pending
                try:
                    w.wait()
                except RuntimeError as e:
                    failed = failed or e
            if failed is not None:
                raise failed
        return out

    def sum_scalar(self, x):
        t = torch.tensor([float(x)], dtype=torch.float64, device=self.device)
        with guard():
            dist.all_reduce(t)
        return float(t.item())

    def gather_rows(self, state, axis=1):
        """Concatenate every rank's rows of a carried state (array or tuple of arrays) along ``axis``."""
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(self.gather_rows(s, axis) for s in state)
        t = torch.as_tensor(state, device=self.device).contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world)]
        with guard():
            dist.all_gather(parts, t)
        return torch.cat(parts, dim=axis)


def bind(fn, args, kwargs):
    """The arguments of a loss_and_grads call by name (training and rng left out)."""
    sig = inspect.signature(fn)
    bound = sig.bind(*args, **{k: v for k, v in kwargs.items() if k not in ("training", "rng")})
    return dict(bound.arguments)


def _batch_size(call, axes):
    for k, axis in axes.items():
        v = call.get(k)
        while isinstance(v, tuple):
            v = v[0]
        if dataclasses.is_dataclass(v):
            v = getattr(v, dataclasses.fields(v)[0].name)
        if v is not None:
            return np.shape(v)[axis]
    raise ValueError(f"cannot find the batch size in the arguments {sorted(call)}")


def _rows(v, axis, lo, hi):
    """Rows lo:hi along ``axis`` of an array, a tuple of arrays, every array field of a dataclass, or a list
    of sequences (CTC transcripts of different lengths)."""
    if v is None:
        return None
    if isinstance(v, list) and axis == 0:
        return v[lo:hi]
    if isinstance(v, tuple):
        return tuple(_rows(x, axis, lo, hi) for x in v)
    if dataclasses.is_dataclass(v):
        return dataclasses.replace(v, **{f.name: _rows(getattr(v, f.name), axis, lo, hi)
                                         for f in dataclasses.fields(v)})
    index = (slice(None),) * axis + (slice(lo, hi),)
    return v[index] if torch.is_tensor(v) else np.asarray(v)[index]


class RankedTrainer(Trainer):
    """A Trainer of which only rank 0 writes into OUT; other ranks write to a private temporary directory.

    Every rank reads OUT's resume checkpoint on --resume; ranks other than 0 never save one
    and return None from fit (no final metrics to print).
    """

    def __init__(self, task, config, out, group=None):
        self.group, self.source = group, out
        self.scratch = None
        if group is not None and group.rank > 0:
            self.scratch = tempfile.mkdtemp(prefix=f"rnnlab-rank{group.rank}-")
            config.progress = False
            out = self.scratch
        super().__init__(task, config, out)

    @property
    def resume_path(self):
        return os.path.join(self.source, "resume.safetensors")

    def save_resume(self):
        if self.scratch is None:
            super().save_resume()

    def finish(self):
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            return None
        return super().finish()

    def step_seed(self, rng):
        """One draw from the trainer's generator per step (the same on every rank), mixed with the rank."""
        seed = int(rng.integers(2**62))
        return seed + (self.group.rank if self.group else 0)


class NumpyDistributedTrainer(RankedTrainer):
    """The NumPy engine on each rank's share of the batch; gradients summed with all_reduce (gloo)."""

    def __init__(self, task, config, out, group):
        super().__init__(task, config, out, group)
        model = task.model
        self.numpy_step = model.loss_and_grads
        model.loss_and_grads = self._loss_and_grads

    def _loss_and_grads(self, *args, training=True, rng=None, **kwargs):
        model, g = self.task.model, self.group
        call = bind(self.numpy_step, args, kwargs)
        sub, weight = g.shard(type(model).__name__, model.config, call)
        rng = np.random.default_rng(self.step_seed(rng if rng is not None else self.rng))
        res = self.numpy_step(**sub, training=training, rng=rng)
        loss, grads = res[0], res[1]
        for a in grads.values():                        # this share's part of the global mean
            a *= weight
        summed = g.sum_arrays(list(grads.values()) + [np.array([loss * weight])])
        out = (float(summed[-1][0]), dict(zip(grads, summed[:-1])))
        if len(res) == 3:
            out += (_as_numpy(g.gather_rows(res[2])),)
        return out


def _as_numpy(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(_as_numpy(s) for s in state)
    return state.detach().cpu().numpy()
