"""torch.optim behind rnnlab's optimizer interface, with rnnlab's checkpoint format.

    opt = TorchOptimizer(twin, model, train_config)     # the same rule and hyperparameters as the NumPy run
    opt.step(grads)             # clips the twin's .grad to config.clip and steps; ``grads`` is not read
    opt.lr = 1e-3               # what rnnlab.schedules set
    arrays, meta = opt.state_dict()                     # exactly rnnlab.optim's: "<buffer>.<param>" + steps

torch.optim keeps the same per-parameter buffers under the same names as rnnlab.optim
(exp_avg, exp_avg_sq, momentum_buffer, square_avg, grad_avg, sum) and a step count, so a
resume checkpoint holds the same arrays whichever backend wrote it.
"""
import numpy as np
import torch

from ..train.loop import OPTIMIZERS

TORCH_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
                    "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}


class TorchOptimizer:
    def __init__(self, twin, model, config, reference=None):
        if reference is None:
            kw = {"lr": config.lr, "weight_decay": config.weight_decay}
            if config.optimizer == "sgd":
                kw["momentum"] = config.momentum
            reference = OPTIMIZERS[config.optimizer](model.params, **kw)
            reference.frozen = set(model.frozen)
        # the NumPy optimizer of the same configuration: its buffer names, hyperparameters and checks
        self.reference = reference
        self.named = {name: p for name, p in twin.named_parameters()
                      if name not in model.frozen and p.requires_grad}
        self.frozen = set(model.params) - set(self.named)
        self.every = list(twin.parameters())            # clipping counts a frozen table's gradient too, as rnnlab
        hp = {k: getattr(self.reference, k) for k in self.reference.hparam_names}
        self.torch = TORCH_OPTIMIZERS[config.optimizer](list(self.named.values()), lr=reference.lr, **hp)
        self.clip = config.clip
        self.steps = {name: 0 for name in model.params}     # per parameter, as rnnlab.optim (SGD keeps none)

    @property
    def lr(self):
        return self.torch.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for g in self.torch.param_groups:
            g["lr"] = float(value)

    def zero_grad(self):
        self.torch.zero_grad(set_to_none=False)

    def step(self, grads=None):
        """Clip the gradients' global norm (as rnnlab.optim.clip_grad_norm_) and take one torch.optim step."""
        params = [p for p in self.every if p.grad is not None]
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.clip)
        self.torch.step()
        for name in self.named:
            self.steps[name] += 1

    def state_dict(self):
        ref = self.reference
        arrays = {}
        for name, p in self.named.items():
            st = self.torch.state.get(p, {})
            for buf in ref.buffers():
                arrays[f"{buf}.{name}"] = (st[buf].detach().cpu().numpy().copy() if buf in st
                                           else ref.state[buf][name].copy())
        for name in self.frozen:                        # never stepped: the NumPy optimizer's initial buffers
            for buf in ref.buffers():
                arrays[f"{buf}.{name}"] = ref.state[buf][name].copy()
        ref.lr = self.lr
        _, meta = ref.state_dict()
        meta["steps"] = dict(self.steps)
        return arrays, meta

    def load_state_dict(self, arrays, meta):
        ref = self.reference
        ref.load_state_dict(arrays, meta)               # every check of the NumPy optimizer
        self.lr = ref.lr
        self.steps = dict(ref.steps)
        for name, p in self.named.items():
            st = {buf: torch.as_tensor(np.array(ref.state[buf][name]), device=p.device) for buf in ref.buffers()}
            if ref.steps[name] or p in self.torch.state:   # Adagrad makes its state up front, the others lazily
                st["step"] = torch.tensor(float(ref.steps[name]))
                self.torch.state[p] = st
