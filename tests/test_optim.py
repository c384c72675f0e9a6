"""Optimizers, gradient clipping and lr schedules follow torch.optim step for step in float64."""
import json
import math

import numpy as np
import pytest

from rnnlab import engine
from rnnlab.layers import Linear
from rnnlab.optim import SGD, Adagrad, Adam, AdamW, RMSprop, clip_grad_norm_
from rnnlab.schedules import CosineLR, ReduceLROnPlateau, StepLR, WarmupLR

from conftest import assert_close

torch = pytest.importorskip("torch")

TOL = 1e-10
SHAPES = {"weight": (4, 3), "bias": (4,), "scale": ()}

CONFIGS = [
    (SGD, torch.optim.SGD, dict(lr=0.1)),
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (Adam, torch.optim.Adam, dict()),
    (Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    (RMSprop, torch.optim.RMSprop, dict()),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.05)),
    (Adagrad, torch.optim.Adagrad, dict()),
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)),
]
IDS = [f"{ours.__name__}-{i}" for i, (ours, _, _) in enumerate(CONFIGS)]
# Adam's step and the gradient norm run as compiled kernels unless the engine runs pure NumPy: test both paths
PATHS = ["numpy", "compiled"]


@pytest.fixture(params=PATHS)
def path(request):
    """The optimizer's path: pure NumPy, or the engine's compiled kernels (skipped without numba)."""
    if request.param == "numpy":
        with engine.use_backend("numpy"):
            yield request.param
        return
    pytest.importorskip("numba")
    with engine.use_backend("numba"):
        yield request.param


def make_params(seed):
    rng = np.random.default_rng(seed)
    return {k: np.array(rng.standard_normal(s)) for k, s in SHAPES.items()}


def make_grads(rng, params):
    """Gradients that depend on the parameters, as a real loss's would."""
    return {k: np.array(rng.standard_normal(p.shape) + 0.5 * p) for k, p in params.items()}


def torch_pair(ref_cls, kwargs, params):
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    return tparams, ref_cls(list(tparams.values()), **kwargs)


def torch_step(ref, tparams, grads):
    for k, p in tparams.items():
        p.grad = torch.from_numpy(grads[k].copy())
    ref.step()


@pytest.mark.parametrize("ours_cls,ref_cls,kwargs", CONFIGS, ids=IDS)
def test_optimizer_matches_torch(ours_cls, ref_cls, kwargs, path):
    params = make_params(0)
    tparams, ref = torch_pair(ref_cls, kwargs, params)
    opt = ours_cls(params, **kwargs)
    rng = np.random.default_rng(1)
    for step in range(10):
        if step == 6:                                 # a schedule changing lr mid-run
            opt.lr *= 0.5
            for group in ref.param_groups:
                group["lr"] *= 0.5
        grads = make_grads(rng, params)
        before = {k: g.copy() for k, g in grads.items()}
        opt.step(grads)
        torch_step(ref, tparams, grads)
        for k in params:
            assert_close(f"step {step} {k}", params[k], tparams[k].detach().numpy(), TOL)
            assert_close(f"grads[{k}] untouched", grads[k], before[k], 0)


@pytest.mark.parametrize("ours_cls,ref_cls,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(ours_cls, ref_cls, kwargs, path):
    params = make_params(2)
    opt = ours_cls(params, **kwargs)
    rng = np.random.default_rng(3)
    for _ in range(5):
        opt.step(make_grads(rng, params))
    arrays, meta = opt.state_dict()
    meta = json.loads(json.dumps(meta))              # checkpoints store meta as JSON
    assert all(isinstance(a, np.ndarray) for a in arrays.values())

    params2 = {k: v.copy() for k, v in params.items()}
    opt2 = ours_cls(params2, lr=123.0)               # hyperparameters come back from meta
    opt2.load_state_dict(arrays, meta)
    assert opt2.lr == opt.lr
    for _ in range(5):
        grads = make_grads(rng, params)
        opt.step(grads)
        opt2.step(grads)
    for k in params:
        assert_close(k, params2[k], params[k], 0)


def test_load_state_dict_rejects_mismatch():
    params = make_params(0)
    arrays, meta = Adam(params).state_dict()
    with pytest.raises(ValueError, match="'Adam', not SGD"):
        SGD(params, lr=0.1).load_state_dict(arrays, meta)
    del arrays["exp_avg.bias"]
    with pytest.raises(ValueError, match=r"missing \['exp_avg.bias'\]"):
        Adam(params).load_state_dict(arrays, meta)
    with pytest.raises(ValueError, match="step counts"):
        Adam({"w": np.zeros(2)}).load_state_dict(*Adam(params).state_dict())


def test_step_rejects_mismatched_grads():
    params = make_params(0)
    opt = SGD(params, lr=0.1)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    with pytest.raises(ValueError, match=r"missing \['bias'\]"):
        opt.step({k: v for k, v in grads.items() if k != "bias"})
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        opt.step({**grads, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({**grads, "bias": np.zeros(5)})


def test_frozen_params_are_skipped():
    params = make_params(0)
    frozen_before = params["weight"].copy()
    opt = Adam(params, lr=0.1)
    opt.frozen.add("weight")
    opt.step({"bias": np.ones(4), "scale": np.ones(())})          # a frozen grad may be left out
    opt.step({k: np.ones_like(v) for k, v in params.items()})      # or given and ignored
    assert_close("frozen weight", params["weight"], frozen_before, 0)
    assert opt.steps == {"weight": 0, "bias": 2, "scale": 2}


def test_float32_params_stay_float32_and_module_is_accepted():
    layer = Linear(3, 2, seed=0)
    weight = layer.params["weight"]
    opt = Adam(layer, lr=0.1)
    opt.step({k: np.ones(v.shape) for k, v in layer.params.items()})   # float64 grads are cast
    assert layer.params["weight"] is weight and weight.dtype == np.float32


@pytest.mark.parametrize("cls,ref_cls,kwargs", [(Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
                                                 (AdamW, torch.optim.AdamW, dict(lr=0.01, amsgrad=True))])
def test_float32_adam_matches_torch_float32(cls, ref_cls, kwargs, path):
    """float32 parameters are updated in float32 arithmetic on both paths, as torch does (to a few ulp)."""
    params = {k: v.astype(np.float32) for k, v in make_params(6).items()}
    params["embedding"] = np.random.default_rng(7).standard_normal((50, 8)).astype(np.float32)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt, ref = cls(params, **kwargs), ref_cls(list(tparams.values()), **kwargs)
    rng = np.random.default_rng(8)
    for step in range(20):
        grads = {k: v.astype(np.float32) for k, v in make_grads(rng, params).items()}
        opt.step(grads)
        torch_step(ref, tparams, grads)
    for k in params:
        assert params[k].dtype == np.float32
        assert_close(k, params[k], tparams[k].detach().numpy(), 1e-5)


def test_clip_grad_norm_of_nan_gradients_is_nan(path):
    """A nan gradient makes the norm nan and scales every gradient to nan, as torch does (no silent skip)."""
    grads = {k: v.astype(np.float32) for k, v in make_params(9).items()}
    grads["weight"][1, 2] = np.nan
    assert math.isnan(clip_grad_norm_(grads, 1.0))
    assert all(np.isnan(g).all() for g in grads.values())


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="lr"):
        SGD(make_params(0), lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(make_params(0), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(make_params(0), betas=(0.9, 1.0))


# ---------------------------------------------------------------------- gradient clipping
@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, path):
    grads = make_params(5)
    tparams = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
    for k, p in tparams.items():
        p.grad = torch.from_numpy(grads[k].copy())
    want = torch.nn.utils.clip_grad_norm_(list(tparams.values()), max_norm, norm_type=norm_type)
    total = clip_grad_norm_(grads, max_norm, norm_type=norm_type)
    assert_close("total_norm", total, want.item(), TOL)
    for k in grads:
        assert_close(k, grads[k], tparams[k].grad.numpy(), TOL)


# ---------------------------------------------------------------------- schedules
def run_schedules(ours, ref, opt, topt, n, metrics=None):
    for epoch in range(n):
        assert_close(f"lr at epoch {epoch}", opt.lr, topt.param_groups[0]["lr"], 1e-12)
        topt.step()                                   # no grads: a no-op that keeps torch's order check quiet
        if metrics is None:
            ours.step()
            ref.step()
        else:
            ours.step(metrics[epoch])
            ref.step(metrics[epoch])


SCHEDULES = [
    (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5), 12),
    (lambda o: CosineLR(o, total=10, min_lr=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 11),
    (lambda o: WarmupLR(o, warmup_steps=4, start_factor=0.25),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4), 8),
]


@pytest.mark.parametrize("make_ours,make_ref,n", SCHEDULES, ids=["step", "cosine", "warmup"])
def test_schedule_matches_torch(make_ours, make_ref, n):
    opt = SGD(make_params(0), lr=0.2)
    tparams, topt = torch_pair(torch.optim.SGD, dict(lr=0.2), make_params(0))
    run_schedules(make_ours(opt), make_ref(topt), opt, topt, n)


def test_cosine_stays_at_min_after_total():
    opt = SGD(make_params(0), lr=1.0)
    sched = CosineLR(opt, total=4, min_lr=0.1)
    lrs = [sched.step() for _ in range(6)]
    assert lrs[3:] == [0.1, 0.1, 0.1]


def test_reduce_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.5] + [0.5] * 10
    opt = SGD(make_params(0), lr=0.1)
    tparams, topt = torch_pair(torch.optim.SGD, dict(lr=0.1), make_params(0))
    ours = ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    run_schedules(ours, ref, opt, topt, len(metrics), metrics)
    assert opt.lr < 0.1


@pytest.mark.parametrize("make", [lambda o: StepLR(o, 2, 0.5), lambda o: CosineLR(o, 7, 0.0),
                                  lambda o: WarmupLR(o, 3), lambda o: ReduceLROnPlateau(o, patience=1)],
                         ids=["step", "cosine", "warmup", "plateau"])
def test_schedule_state_dict_round_trip(make):
    metrics = [1.0, 1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95]
    opt, opt2 = SGD(make_params(0), lr=0.3), SGD(make_params(0), lr=0.3)
    sched = make(opt)
    plateau = isinstance(sched, ReduceLROnPlateau)
    for m in metrics[:4]:
        sched.step(m) if plateau else sched.step()
    state = json.loads(json.dumps(sched.state_dict(), allow_nan=False))
    opt2.lr = opt.lr                                  # the optimizer's own state_dict carries lr
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    for m in metrics[4:]:
        a = sched.step(m) if plateau else sched.step()
        b = sched2.step(m) if plateau else sched2.step()
        assert a == b
    with pytest.raises(ValueError, match="schedule state is for"):
        sched2.load_state_dict({**state, "type": "Other"})
