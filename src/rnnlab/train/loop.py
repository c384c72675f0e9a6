"""The training loop every task shares.

    trainer = Trainer(task, TrainConfig(epochs=5, lr=2e-3), out_dir="runs/x")
    metrics = trainer.fit()            # or fit(resume=True)

Per epoch: the task's batches (a deterministic function of seed and epoch), one
optimizer step per batch with global-norm clipping, validation, best-model
keeping, early stopping and a learning-rate schedule. One JSON line per epoch goes
to OUT/metrics.jsonl. A resume checkpoint (weights, optimizer, RNG, carried state,
counters) is written atomically every ``save_every`` seconds and at each epoch's
end, so a run killed at any moment and resumed ends with the same weights as an
uninterrupted run with the same seed.

Training stops when ``epochs`` are done, when ``max_time`` seconds are used (no
epoch cap when ``epochs`` is None), after ``patience`` epochs without improvement,
or when the learning-rate schedule has cut the rate below ``CONVERGED_LR`` of its
start; the final metrics name which (``stop_reason``) and count steps and epochs.

With ``max_time``, the last ``lr_cooldown`` fraction of the budget lowers the rate
linearly, step by step, from the schedule's value to 0 at the end of the budget (a
warmup-stable-decay tail: training that runs until the time is up ends on a cooled
model instead of wherever the constant-rate noise left it). The epoch schedule works on
the undecayed rate; a run that stops before the tail (epochs, early stopping) is not
affected.
"""
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import optim, schedules
from ..engine import _warm as engine_warm
from .checkpoint import (CheckpointError, append_line, atomic_write_bytes, atomic_write_json, load_arrays,
                         remove_temp_files, save_arrays)
from .rundir import discard_previous_run
from .state import check_resume_meta

# a schedule that has cut the learning rate below this fraction of its start changes nothing more
CONVERGED_LR = 1e-4

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}


@dataclass
class TrainConfig:
    epochs: int | None = 10           # None: no cap (max_time or early stopping ends training)
    max_time: float | None = None     # seconds of training; stops after the step that crosses it
    lr: float = 2e-3
    optimizer: str = "adam"
    momentum: float = 0.9             # for sgd
    weight_decay: float = 0.0
    clip: float = 5.0                 # global gradient-norm limit; 0 disables
    patience: int = 5                 # epochs without improvement before stopping; 0 disables
    lr_schedule: str = "plateau"      # plateau | cosine | step | none
    lr_factor: float = 0.5
    lr_patience: int = 0              # plateau: cut the rate once more than this many epochs in a row did not improve
    lr_cooldown: float = 0.0          # with max_time: this last fraction of the budget decays the rate linearly to 0
    seed: int = 0
    save_every: float = 60.0          # seconds between resume checkpoints (0: after every step)
    progress: bool = True
    keep_resume: bool = False         # keep resume.safetensors after a clean finish
    # with max_time, on a machine where the engine's compiled loops are not in numba's cache yet: compile them in a
    # second process while the first steps run on NumPy, instead of spending the budget's first 10-20 s compiling
    compile_in_background: bool = False


class Trainer:
    def __init__(self, task, config, out_dir):
        if config.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {config.optimizer!r}")
        if config.epochs is None and config.max_time is None and not config.patience:
            raise ValueError("TrainConfig needs epochs, max_time or patience: nothing would stop training")
        self.task, self.config, self.out = task, config, out_dir
        model = task.model
        kw = {"lr": config.lr, "weight_decay": config.weight_decay}
        if config.optimizer == "sgd":
            kw["momentum"] = config.momentum
        self.opt = OPTIMIZERS[config.optimizer](model.params, **kw)
        self.opt.frozen = set(model.frozen)
        if not 0.0 <= config.lr_cooldown < 1.0:
            raise ValueError(f"lr_cooldown must be in [0, 1), got {config.lr_cooldown!r}")
        self.schedule = _make_schedule(config, self.opt)
        self.rng = np.random.default_rng(config.seed + 1)     # dropout and any training-time noise
        self.state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "elapsed": 0.0,
                      "best": None, "best_epoch": None, "bad_epochs": 0, "history": [], "stopped": False,
                      "loss_sum": 0.0, "loss_count": 0, "epoch_tokens": 0, "best_tiebreak": None, "stop_reason": None}
        self.carry = task.initial_carry()
        self.warmup = None              # engine._warm.Warmup while the compiled loops compile in a second process

    # ------------------------------------------------------------------ checkpointing
    @property
    def resume_path(self):
        return os.path.join(self.out, "resume.safetensors")

    def save_resume(self):
        arrays = {f"model/{k}": v for k, v in self.task.model.params.items()}
        opt_arrays, opt_meta = self.opt.state_dict()
        arrays.update({f"optim/{k}": v for k, v in opt_arrays.items()})
        arrays.update({f"carry/{k}": v for k, v in self.task.carry_to_arrays(self.carry).items()})
        meta = {"trainer": self.state, "optim": opt_meta, "rng": _rng_state(self.rng),
                "schedule": self.schedule.state_dict() if self.schedule else None,
                "train_config": asdict(self.config)}
        save_arrays(self.resume_path, arrays, meta)

    def load_resume(self):
        arrays, meta = load_arrays(self.resume_path)
        check_resume_meta(self.resume_path, meta)
        model = self.task.model
        weights = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        try:
            model.load_state_dict(weights)
        except ValueError as e:
            raise CheckpointError(f"{self.resume_path}: {e}") from None
        self.opt.load_state_dict({k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")},
                                 meta["optim"])
        self.carry = self.task.carry_from_arrays({k[len("carry/"):]: v for k, v in arrays.items()
                                                  if k.startswith("carry/")})
        self.rng.bit_generator.state = meta["rng"]
        if self.schedule and meta.get("schedule"):
            self.schedule.load_state_dict(meta["schedule"])
        self.state = {**self.state, **meta["trainer"]}
        # metrics.jsonl holds exactly the epochs this snapshot has seen
        lines = [json.dumps(m, sort_keys=True) + "\n" for m in self.state["history"]]
        atomic_write_bytes(os.path.join(self.out, "metrics.jsonl"), "".join(lines).encode())

    # ------------------------------------------------------------------ training
    def fit(self, resume=False):
        cfg = self.config
        self.warmup = engine_warm.start(self.task.model) if cfg.compile_in_background and cfg.max_time else None
        try:
            with self._ctrl_c_at_step_boundary():
                return self._fit(resume)
        finally:
            if self.warmup is not None:
                self.warmup.close()
                self.warmup = None

    @contextlib.contextmanager
    def _ctrl_c_at_step_boundary(self):
        """A first Ctrl-C stops after the current step, with a resume checkpoint; a second one stops at once."""
        self.interrupted = False
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            self.interrupted = True
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _fit(self, resume):
        cfg, task, st = self.config, self.task, self.state
        os.makedirs(self.out, exist_ok=True)
        remove_temp_files(self.out)          # left by a run killed while saving
        if resume and not os.path.exists(self.resume_path):
            finished = os.path.exists(os.path.join(self.out, "metrics.json"))
            if finished or os.path.exists(os.path.join(self.out, "model.safetensors")):
                raise CheckpointError(f"{self.resume_path}: nothing to resume (" + (
                    "the run finished; its resume checkpoint was removed" if finished
                    else f"no resume checkpoint in {self.out}") + ")")
            resume = False      # killed before its first checkpoint: start at step 0 with the saved settings
        if resume:
            self.load_resume()
            st = self.state
        else:
            atomic_write_bytes(os.path.join(self.out, "metrics.jsonl"), b"")
        task.save_model(self.out, best=False)   # config.json exists from the start
        if not resume:
            self.save_resume()                  # resumable from step 0
        last_save = time.monotonic()
        t_start = time.monotonic() - st["elapsed"]
        while not st["stopped"]:
            if cfg.epochs is not None and st["epoch"] >= cfg.epochs:
                st["stop_reason"] = "epochs"
                break
            batches = task.train_batches(st["epoch"])
            if st["step_in_epoch"] == 0:
                self.carry = task.initial_carry()
                st["loss_sum"], st["loss_count"], st["epoch_tokens"] = 0.0, 0, 0
            of = f"/{cfg.epochs}" if cfg.epochs is not None else ""
            log = _ProgressLog(len(batches), st["step_in_epoch"], f"epoch {st['epoch'] + 1}{of}", cfg, st["elapsed"])
            tokens, t0, losses = 0, time.monotonic(), []
            out_of_time, cooling = False, self._cooldown()
            for i in range(st["step_in_epoch"], len(batches)):
                if self.warmup is not None and self.warmup.poll():
                    self.warmup = None          # the compiled loops are in the cache: steps run on them from here
                loss, grads, self.carry, n_tok = task.train_step(batches[i], self.carry, self.rng)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss} at epoch {st['epoch'] + 1} step {i + 1}; "
                                             f"lower --lr or --clip")
                if cfg.clip > 0:
                    optim.clip_grad_norm_(grads, cfg.clip)
                # the cooldown scales this step's rate only: the optimizer keeps the schedule's rate, which the
                # epoch schedule reads and the resume checkpoint stores
                rate, cooling = self.opt.lr, self._cooldown()
                self.opt.lr = rate * cooling
                self.opt.step(grads)
                self.opt.lr = rate
                losses.append(loss)
                # the epoch's loss sum is part of the resume state: a resumed epoch averages all its steps
                st["loss_sum"] += float(loss)
                st["loss_count"] += 1
                tokens += n_tok
                st["epoch_tokens"] += int(n_tok)
                st["step_in_epoch"] = i + 1
                st["global_step"] += 1
                st["elapsed"] = time.monotonic() - t_start
                log.step(np.mean(losses[-20:]), tokens / max(time.monotonic() - t0, 1e-9), st["elapsed"])
                if self.interrupted:
                    log.close()
                    self.save_resume()
                    raise KeyboardInterrupt
                if cfg.max_time is not None and st["elapsed"] >= cfg.max_time:
                    out_of_time = True
                    break
                if time.monotonic() - last_save >= cfg.save_every:
                    self.save_resume()
                    last_save = time.monotonic()
            log.close()
            metrics = task.evaluate("val")
            train_loss = st["loss_sum"] / st["loss_count"] if st["loss_count"] else None
            metrics.update(epoch=st["epoch"] + 1, step=st["global_step"], train_loss=train_loss,
                           lr=self.opt.lr * cooling, elapsed=round(st["elapsed"], 2), partial_epoch=out_of_time,
                           tokens=st["epoch_tokens"])
            self._end_epoch(metrics)
            if out_of_time:
                st["stopped"], st["stop_reason"] = True, "time"
            self.save_resume()
            last_save = time.monotonic()
        return self.finish()

    def _cooldown(self):
        """The factor on the schedule's rate: 1 until the last lr_cooldown of max_time, then linearly down to 0."""
        cfg = self.config
        if not cfg.lr_cooldown or cfg.max_time is None:
            return 1.0
        left = max(cfg.max_time - self.state["elapsed"], 0.0)
        return min(1.0, left / (cfg.lr_cooldown * cfg.max_time))

    def _end_epoch(self, metrics):
        st, task = self.state, self.task
        key, mode = task.monitor
        value = metrics[key]
        tiebreak = metrics.get(task.tiebreak) if task.tiebreak else None
        if st["best"] is None or (value < st["best"] if mode == "min" else value > st["best"]):
            better = True
        else:   # a tie on the monitored value goes to the lower tie-break loss (classify: validation loss)
            better = (value == st["best"] and tiebreak is not None and st.get("best_tiebreak") is not None
                      and tiebreak < st["best_tiebreak"])
        if better:
            st["best"], st["best_epoch"], st["bad_epochs"] = value, metrics["epoch"], 0
            st["best_tiebreak"] = tiebreak
            task.save_model(self.out, best=True)
            discard_previous_run(self.out)      # an overwritten run's files go once this one has a model
        else:
            st["bad_epochs"] += 1
        st["history"].append(metrics)
        append_line(os.path.join(self.out, "metrics.jsonl"), json.dumps(metrics, sort_keys=True))
        if self.config.progress:
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
            print(json.dumps(shown), file=sys.stderr, flush=True)
        if isinstance(self.schedule, schedules.ReduceLROnPlateau):
            s_key, s_mode = task.schedule_monitor or (key, mode)
            s_value = metrics[s_key]
            self.schedule.step(s_value if s_mode == "min" else -s_value)
        elif self.schedule is not None:
            self.schedule.step()
        st["epoch"] += 1
        st["step_in_epoch"] = 0
        st["loss_sum"], st["loss_count"], st["epoch_tokens"] = 0.0, 0, 0
        if self.config.patience and st["bad_epochs"] >= self.config.patience:
            st["stopped"], st["stop_reason"] = True, "early_stopping"
        elif self.schedule is not None and self.opt.lr < CONVERGED_LR * self.config.lr:
            st["stopped"], st["stop_reason"] = True, "converged"

    def finish(self):
        """Reload the best weights and compute the final held-out metrics into OUT/metrics.json."""
        st = self.state
        self.task.load_best(self.out)
        t0 = time.monotonic()
        if self.config.progress:
            print("final evaluation on the held-out splits ...", file=sys.stderr, flush=True)
        final = self.task.final_metrics()
        if self.config.progress:
            print(f"final evaluation took {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        final.update(best_epoch=st["best_epoch"], epochs_run=st["epoch"], steps=st["global_step"],
                     stop_reason=st["stop_reason"], train_seconds=round(st["elapsed"], 2))
        atomic_write_json(os.path.join(self.out, "metrics.json"), final)
        if not self.config.keep_resume and os.path.exists(self.resume_path):
            os.unlink(self.resume_path)
        return final


def _make_schedule(cfg, opt):
    if cfg.lr_schedule == "none":
        return None
    if cfg.lr_schedule == "plateau":
        return schedules.ReduceLROnPlateau(opt, factor=cfg.lr_factor, patience=cfg.lr_patience)
    if cfg.lr_schedule == "cosine":
        if cfg.epochs is None:
            raise ValueError("--lr-schedule cosine decays over a known number of epochs: give --epochs too")
        return schedules.CosineLR(opt, total=cfg.epochs, min_lr=cfg.lr * 0.01)
    if cfg.lr_schedule == "step":
        return schedules.StepLR(opt, step_size=1, gamma=cfg.lr_factor)
    raise ValueError(f"lr_schedule must be plateau, cosine, step or none, got {cfg.lr_schedule!r}")


def _rng_state(rng):
    return rng.bit_generator.state


class _ProgressLog:
    """Progress of one epoch: a tqdm bar on a terminal; into a log, a plain line every 30 s (no redraws).

    The ETA is the end of the epoch or of the --max-time budget, whichever comes first.
    """

    def __init__(self, total, initial, desc, cfg, elapsed):
        self.total, self.done, self.desc, self.cfg = total, initial, desc, cfg
        self.first, self.t0, self.last, self.bar = initial, time.monotonic(), time.monotonic(), None
        if cfg.progress and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="batch", leave=False, file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.1)

    def _eta(self, elapsed):
        rate = (self.done - self.first) / max(time.monotonic() - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        if self.cfg.max_time is not None:
            eta = min(eta, max(self.cfg.max_time - elapsed, 0.0))
        return eta

    def step(self, loss, tok_s, elapsed):
        self.done += 1
        if not self.cfg.progress:
            return
        eta = self._eta(elapsed)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tok_s:,.0f}", left=_clock(eta))
            self.bar.update(1)
        elif time.monotonic() - self.last >= 30.0:
            self.last = time.monotonic()
            print(f"{self.desc} step {self.done}/{self.total} loss {loss:.3f} {tok_s:,.0f} tok/s "
                  f"eta {_clock(eta)}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _clock(seconds):
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
