"""Learning-rate schedules that set an optimizer's ``lr`` attribute.

    sched = StepLR(opt, step_size=10, gamma=0.5)    # sets opt.lr for epoch 0
    for epoch in range(n):
        train_one_epoch(opt)
        sched.step()                                # ReduceLROnPlateau: sched.step(val_loss)

Each schedule counts its own steps (``last_epoch``, 0 after construction, as
torch.optim.lr_scheduler) and saves that count with ``state_dict()``, a JSON-able
dict, so a resumed run continues the same curve. The closed-form schedules
compute lr from ``base_lr`` (the optimizer's lr at construction) and the count.
"""
import math


class _Schedule:
    fields = ()                      # attributes saved by state_dict besides base_lr and last_epoch

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise ValueError(f"a schedule needs an optimizer with an lr attribute, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch):
        raise NotImplementedError

    def step(self):
        """Advance one epoch (or step) and set the optimizer's lr; return it."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)
        return self.optimizer.lr

    def state_dict(self):
        return {"type": type(self).__name__, "base_lr": self.base_lr, "last_epoch": self.last_epoch,
                **{k: getattr(self, k) for k in self.fields}}

    def load_state_dict(self, state):
        _check_type(self, state, ("base_lr", "last_epoch") + self.fields)
        for k in ("base_lr", "last_epoch") + self.fields:
            setattr(self, k, state[k])
        self.optimizer.lr = self.lr_at(self.last_epoch)


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (epoch // step_size), as torch's StepLR."""

    fields = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(_Schedule):
    """lr = min_lr + (base_lr - min_lr) (1 + cos(pi t / total)) / 2 for t <= total, then min_lr.

    The same curve as torch's CosineAnnealingLR(T_max=total, eta_min=min_lr) up to
    ``total``; it stays at ``min_lr`` afterwards instead of rising again.
    """

    fields = ("total", "min_lr")

    def __init__(self, optimizer, total, min_lr=0.0):
        if not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a positive integer, got {total!r}")
        self.total, self.min_lr = total, float(min_lr)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        t = min(epoch, self.total)
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * t / self.total)) / 2.0


class WarmupLR(_Schedule):
    """Linear warmup: lr = base_lr * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps).

    torch's LinearLR(start_factor, end_factor=1.0, total_iters=warmup_steps); constant afterwards.
    """

    fields = ("warmup_steps", "start_factor")

    def __init__(self, optimizer, warmup_steps, start_factor=0.1):
        if not isinstance(warmup_steps, int) or warmup_steps < 1:
            raise ValueError(f"warmup_steps must be a positive integer, got {warmup_steps!r}")
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
        self.warmup_steps, self.start_factor = warmup_steps, float(start_factor)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        frac = min(epoch, self.warmup_steps) / self.warmup_steps
        return self.base_lr * (self.start_factor + (1.0 - self.start_factor) * frac)


class ReduceLROnPlateau:
    """Multiply lr by ``factor`` once the metric has not improved for more than ``patience`` epochs.

    As torch's ReduceLROnPlateau: an improvement is metric < best * (1 - threshold)
    ("min", "rel"); after a reduction, ``cooldown`` epochs pass before bad epochs
    count again; lr never goes below ``min_lr`` and changes smaller than ``eps`` are skipped.
    """

    fields = ("factor", "patience", "mode", "threshold", "threshold_mode", "cooldown", "min_lr", "eps",
              "best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(self, optimizer, factor=0.1, patience=10, mode="min", threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not hasattr(optimizer, "lr"):
            raise ValueError(f"a schedule needs an optimizer with an lr attribute, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.factor, self.patience, self.mode, self.threshold = float(factor), int(patience), mode, float(threshold)
        self.threshold_mode, self.cooldown, self.min_lr, self.eps = threshold_mode, int(cooldown), float(min_lr), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

    def step(self, metric):
        """Record this epoch's metric; reduce the optimizer's lr when it has plateaued. Returns the lr."""
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.optimizer.lr

    def _is_better(self, a):
        if self.mode == "min":
            return a < (self.best * (1.0 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold)
        return a > (self.best * (1.0 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold)

    def state_dict(self):
        """JSON-able; +-inf ``best`` is stored as a string, since JSON has no infinity."""
        state = {"type": type(self).__name__, **{k: getattr(self, k) for k in self.fields}}
        if math.isinf(self.best):
            state["best"] = str(self.best)
        return state

    def load_state_dict(self, state):
        _check_type(self, state, self.fields)
        for k in self.fields:
            setattr(self, k, state[k])
        self.best = float(self.best)


def _check_type(sched, state, keys):
    if state.get("type") != type(sched).__name__:
        raise ValueError(f"schedule state is for {state.get('type')!r}, not {type(sched).__name__}")
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"{type(sched).__name__} state is missing {missing}")
