"""Optimizers that update a dict of live parameter arrays in place, with PyTorch's update rules.

    opt = Adam(model.parameters(), lr=1e-3)      # {name: ndarray}, the arrays the model computes with
    opt.step(grads)                              # grads {name: ndarray}, the same keys
    opt.lr = 3e-4                                # schedules set this between steps
    arrays, meta = opt.state_dict()              # {name: ndarray} + a JSON-able dict (no pickle)
    opt.load_state_dict(arrays, meta)

Each optimizer keeps per-parameter buffers (``arrays`` keys are "<buffer>.<param name>")
and a per-parameter step count, exactly as torch.optim does. A parameter whose name is
in ``opt.frozen`` is neither updated nor counted, and may be left out of ``grads``.
"""
import functools
import math

import numpy as np

from .engine import _warm, get_backend


class Optimizer:
    """The shared machinery: argument checks, the step loop and (de)serialisation."""

    hparam_names = ()          # constructor arguments saved in state_dict()["meta"]

    def __init__(self, params, frozen=()):
        if hasattr(params, "parameters") and not isinstance(params, dict):
            params = params.parameters()
        if not isinstance(params, dict):
            raise ValueError(f"params must be a dict {{name: ndarray}} of live arrays, got {type(params).__name__}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise ValueError(f"parameter {name!r} must be a floating ndarray (updated in place), "
                                 f"got {type(p).__name__} {getattr(p, 'dtype', '')}")
        self.params = params
        self.frozen = set(frozen)
        self.steps = {name: 0 for name in params}
        self.state = {buf: {name: self._init_buffer(buf, p) for name, p in params.items()} for buf in self.buffers()}

    # ------------------------------------------------------------------ to override
    def buffers(self):
        """Names of the per-parameter state arrays this configuration needs."""
        return ()

    def _init_buffer(self, buf, p):
        return np.zeros_like(p)

    def _update(self, name, p, g, t):
        """Update parameter ``p`` in place from gradient ``g`` at its step ``t`` (1-based)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ step
    def step(self, grads):
        """One update of every non-frozen parameter from ``grads`` {name: ndarray}."""
        grads = self._check_grads(grads)
        for name, p in self.params.items():
            if name in self.frozen:
                continue
            self.steps[name] += 1
            self._update(name, p, grads[name], self.steps[name])

    def _check_grads(self, grads):
        if not isinstance(grads, dict):
            raise ValueError(f"grads must be a dict {{name: ndarray}}, got {type(grads).__name__}")
        missing = [k for k in self.params if k not in grads and k not in self.frozen]
        extra = [k for k in grads if k not in self.params]
        if missing or extra:
            raise ValueError(f"grads do not match the parameters: missing {missing}, unexpected {extra}")
        out = {}
        for name, p in self.params.items():
            if name in self.frozen:
                continue
            g = np.asarray(grads[name], dtype=p.dtype)
            if g.shape != p.shape:
                raise ValueError(f"grads[{name!r}] has shape {g.shape}, but the parameter has shape {p.shape}")
            out[name] = g
        return out

    def _decayed(self, g, p):
        """The L2-penalised gradient g + weight_decay * p (a new array; the caller's grads stay untouched)."""
        return g + self.weight_decay * p if self.weight_decay else g

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self):
        """(arrays {"<buffer>.<param>": ndarray}, meta JSON-able dict)."""
        arrays = {f"{buf}.{name}": a.copy() for buf, per in self.state.items() for name, a in per.items()}
        hparams = {k: _jsonable(getattr(self, k)) for k in ("lr",) + self.hparam_names}
        meta = {"type": type(self).__name__, "hparams": hparams, "steps": dict(self.steps)}
        return arrays, meta

    def load_state_dict(self, arrays, meta):
        """Restore buffers, step counts and hyperparameters (lr included) saved by ``state_dict``."""
        if meta.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {meta.get('type')!r}, not {type(self).__name__}")
        steps = meta.get("steps", {})
        if set(steps) != set(self.params):
            raise ValueError(f"optimizer state has step counts for {sorted(steps)}, "
                             f"but the parameters are {sorted(self.params)}")
        hparams = dict(meta.get("hparams", {}))
        for k, v in hparams.items():
            if k != "lr" and k not in self.hparam_names:
                raise ValueError(f"unknown {type(self).__name__} hyperparameter {k!r} in optimizer state")
        # buffers depend on hyperparameters (momentum, amsgrad, centered): set those first
        old = {k: getattr(self, k) for k in hparams}
        for k, v in hparams.items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        expected = {f"{buf}.{name}": p for buf in self.buffers() for name, p in self.params.items()}
        missing = [k for k in expected if k not in arrays]
        extra = [k for k in arrays if k not in expected]
        bad = [k for k in expected if k in arrays and np.shape(arrays[k]) != expected[k].shape]
        if missing or extra or bad:
            for k, v in old.items():
                setattr(self, k, v)
            raise ValueError(f"optimizer state arrays do not match: missing {missing}, unexpected {extra}, "
                             f"wrong shape {bad}")
        self.state = {buf: {} for buf in self.buffers()}
        for key, p in expected.items():
            buf, name = key.split(".", 1)
            self.state[buf][name] = np.array(arrays[key], dtype=p.dtype)
        self.steps = {name: int(steps[name]) for name in self.params}

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("lr",) + self.hparam_names)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """p -= lr * g, with optional L2 weight decay, (Nesterov) momentum and dampening, as torch.optim.SGD.

        g = grad + weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov) or b
    """

    hparam_names = ("momentum", "dampening", "nesterov", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, frozen=()):
        _check_nonneg(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)
        super().__init__(params, frozen)

    def buffers(self):
        return ("momentum_buffer",) if self.momentum else ()

    def _update(self, name, p, g, t):
        g = self._decayed(g, p)
        if self.momentum:
            buf = self.state["momentum_buffer"][name]
            if t == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), as torch.optim.Adam; weight_decay is added to the gradient (L2).

        m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2        (v_max = max(v_max, v) for amsgrad)
        p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    hparam_names = ("betas", "eps", "weight_decay", "amsgrad")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, frozen=()):
        _check_nonneg(lr=lr, eps=eps, weight_decay=weight_decay)
        betas = tuple(float(b) for b in betas)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.weight_decay, self.amsgrad = float(weight_decay), bool(amsgrad)
        super().__init__(params, frozen)

    def buffers(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, name, p, g, t):
        b1, b2 = self.betas
        K = _compiled(p, g)
        if K is not None:
            m, v = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
            vmax = self.state["max_exp_avg_sq"][name] if self.amsgrad else np.empty(0, p.dtype)
            l2, keep = (0.0, 1.0 - self.lr * self.weight_decay) if self.decoupled else (self.weight_decay, 1.0)
            f = p.dtype.type
            K.adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), vmax.reshape(-1), f(b1), f(b2),
                   f(l2), f(keep), f(self.lr / (1.0 - b1 ** t)), f(math.sqrt(1.0 - b2 ** t)), f(self.eps))
            return
        if self.decoupled:
            p *= 1.0 - self.lr * self.weight_decay
        else:
            g = self._decayed(g, p)
        m, v = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * g * g
        if self.amsgrad:
            v = np.maximum(self.state["max_exp_avg_sq"][name], v, out=self.state["max_exp_avg_sq"][name])
        step_size = self.lr / (1.0 - b1 ** t)
        denom = np.sqrt(v) / math.sqrt(1.0 - b2 ** t) + self.eps
        p -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, frozen=()):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, frozen)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop.

        s = alpha s + (1 - alpha) g^2;  centered: a = alpha a + (1 - alpha) g, s_hat = s - a^2
        d = sqrt(s_hat) + eps
        p -= lr * g / d   (momentum: b = momentum b + g / d; p -= lr * b)
    """

    hparam_names = ("alpha", "eps", "momentum", "centered", "weight_decay")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0,
                 frozen=()):
        _check_nonneg(lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)
        self.lr, self.alpha, self.eps, self.momentum = float(lr), float(alpha), float(eps), float(momentum)
        self.centered, self.weight_decay = bool(centered), float(weight_decay)
        super().__init__(params, frozen)

    def buffers(self):
        return (("square_avg",) + (("momentum_buffer",) if self.momentum else ())
                + (("grad_avg",) if self.centered else ()))

    def _update(self, name, p, g, t):
        g = self._decayed(g, p)
        a = self.alpha
        sq = self.state["square_avg"][name]
        sq *= a
        sq += (1.0 - a) * g * g
        if self.centered:
            ga = self.state["grad_avg"][name]
            ga *= a
            ga += (1.0 - a) * g
            avg = np.sqrt(sq - ga * ga)
        else:
            avg = np.sqrt(sq)
        avg += self.eps
        if self.momentum:
            buf = self.state["momentum_buffer"][name]
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            p -= self.lr * (g / avg)


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad.

        s += g^2;   p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
    """

    hparam_names = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 frozen=()):
        _check_nonneg(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                      initial_accumulator_value=initial_accumulator_value, eps=eps)
        self.lr, self.lr_decay, self.weight_decay = float(lr), float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)
        super().__init__(params, frozen)

    def buffers(self):
        return ("sum",)

    def _init_buffer(self, buf, p):
        return np.full_like(p, self.initial_accumulator_value)

    def _update(self, name, p, g, t):
        g = self._decayed(g, p)
        clr = self.lr / (1.0 + (t - 1) * self.lr_decay)
        s = self.state["sum"][name]
        s += g * g
        p -= clr * (g / (np.sqrt(s) + self.eps))


def clip_grad_norm_(grads, max_norm, norm_type=2.0):
    """Scale every gradient in place so their global norm is at most ``max_norm``; return the norm before.

    As torch.nn.utils.clip_grad_norm_: the scale is min(1, max_norm / (total_norm + 1e-6)).
    ``norm_type`` is 2.0 (the L2 norm of all gradients concatenated) or inf (the largest |g|).
    """
    if isinstance(grads, dict):
        grads = list(grads.values())
    if norm_type not in (2, 2.0, math.inf):
        raise ValueError(f"norm_type must be 2.0 or inf, got {norm_type!r}")
    if float(max_norm) < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm!r}")
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        K = _compiled(*grads)
        if K is not None:
            total = math.sqrt(sum(K.sum_squares(g.reshape(-1)) for g in grads))
        else:
            total = math.sqrt(sum(float(np.dot(g.ravel().astype(np.float64), g.ravel().astype(np.float64)))
                                  for g in grads))
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:                                  # also scales (to nan) when the norm is nan, as torch
        for g in grads:
            g *= coef
    return total


def _compiled(*arrays):
    """The compiled update kernels (``engine._numba_optim``) for these arrays: None when the engine runs pure
    NumPy (``rnnlab.engine.set_backend("numpy")``; not while it does so for a background compile), numba is missing, or an array is not a C-contiguous float
    array of the first one's dtype (the NumPy code handles those)."""
    K = _kernels()
    if K is None or not arrays or (get_backend() == "numpy" and not _warm.running()):
        return None
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64) or not all(a.dtype == dtype and a.flags.c_contiguous for a in arrays):
        return None
    return K


@functools.cache
def _kernels():
    """``engine._numba_optim``, imported once (it is asked for each parameter at every step), or None without numba."""
    try:
        from .engine import _numba_optim
    except ImportError:
        return None
    return _numba_optim


def _check_nonneg(**values):
    for k, v in values.items():
        if not float(v) >= 0.0:
            raise ValueError(f"{k} must be >= 0, got {v!r}")


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v
