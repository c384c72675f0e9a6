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
"""
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import optim, schedules
from .checkpoint import CheckpointError, atomic_write_bytes, atomic_write_json, load_arrays, save_arrays

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}


@dataclass
class TrainConfig:
    epochs: int = 10
    max_time: float | None = None     # seconds of training; stops after the step that crosses it
    lr: float = 2e-3
    optimizer: str = "adam"
    momentum: float = 0.9             # for sgd
    weight_decay: float = 0.0
    clip: float = 5.0                 # global gradient-norm limit; 0 disables
    patience: int = 5                 # epochs without improvement before stopping; 0 disables
    lr_schedule: str = "plateau"      # plateau | cosine | step | none
    lr_factor: float = 0.5
    seed: int = 0
    save_every: float = 60.0          # seconds between resume checkpoints (0: after every step)
    progress: bool = True


class Trainer:
    def __init__(self, task, config, out_dir):
        if config.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {config.optimizer!r}")
        self.task, self.config, self.out = task, config, out_dir
        model = task.model
        kw = {"lr": config.lr, "weight_decay": config.weight_decay}
        if config.optimizer == "sgd":
            kw["momentum"] = config.momentum
        self.opt = OPTIMIZERS[config.optimizer](model.params, **kw)
        self.opt.frozen = set(model.frozen)
        self.schedule = _make_schedule(config, self.opt)
        self.rng = np.random.default_rng(config.seed + 1)     # dropout and any training-time noise
        self.state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "elapsed": 0.0,
                      "best": None, "best_epoch": None, "bad_epochs": 0, "history": [], "stopped": False}
        self.carry = task.initial_carry()

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
        self.state = meta["trainer"]
        # metrics.jsonl holds exactly the epochs this snapshot has seen
        lines = [json.dumps(m, sort_keys=True) + "\n" for m in self.state["history"]]
        atomic_write_bytes(os.path.join(self.out, "metrics.jsonl"), "".join(lines).encode())

    # ------------------------------------------------------------------ training
    def fit(self, resume=False):
        cfg, task, st = self.config, self.task, self.state
        os.makedirs(self.out, exist_ok=True)
        if resume:
            if not os.path.exists(self.resume_path):
                raise CheckpointError(f"{self.resume_path}: nothing to resume (no resume checkpoint in {self.out})")
            self.load_resume()
            st = self.state
        else:
            atomic_write_bytes(os.path.join(self.out, "metrics.jsonl"), b"")
        task.save_model(self.out, best=False)   # config.json exists from the start
        last_save = time.monotonic()
        t_start = time.monotonic() - st["elapsed"]
        while st["epoch"] < cfg.epochs and not st["stopped"]:
            batches = task.train_batches(st["epoch"])
            if st["step_in_epoch"] == 0:
                self.carry = task.initial_carry()
            bar = _progress(len(batches), st["step_in_epoch"], f"epoch {st['epoch'] + 1}/{cfg.epochs}", cfg.progress)
            tokens, t0, losses = 0, time.monotonic(), []
            out_of_time = False
            for i in range(st["step_in_epoch"], len(batches)):
                loss, grads, self.carry, n_tok = task.train_step(batches[i], self.carry, self.rng)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss} at epoch {st['epoch'] + 1} step {i + 1}; "
                                             f"lower --lr or --clip")
                if cfg.clip > 0:
                    optim.clip_grad_norm_(grads, cfg.clip)
                self.opt.step(grads)
                losses.append(loss)
                tokens += n_tok
                st["step_in_epoch"] = i + 1
                st["global_step"] += 1
                st["elapsed"] = time.monotonic() - t_start
                if bar is not None:
                    rate = tokens / max(time.monotonic() - t0, 1e-9)
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", tok_s=f"{rate:,.0f}")
                    bar.update(1)
                if cfg.max_time is not None and st["elapsed"] >= cfg.max_time:
                    out_of_time = True
                    break
                if time.monotonic() - last_save >= cfg.save_every:
                    self.save_resume()
                    last_save = time.monotonic()
            if bar is not None:
                bar.close()
            metrics = task.evaluate("val")
            metrics.update(epoch=st["epoch"] + 1, step=st["global_step"], train_loss=float(np.mean(losses)) if losses else None,
                           lr=self.opt.lr, elapsed=round(st["elapsed"], 2), partial_epoch=out_of_time,
                           tokens=tokens)
            self._end_epoch(metrics)
            if out_of_time:
                st["stopped"] = True
            self.save_resume()
            last_save = time.monotonic()
        return self.finish()

    def _end_epoch(self, metrics):
        st, task = self.state, self.task
        key, mode = task.monitor
        value = metrics[key]
        better = st["best"] is None or (value < st["best"] if mode == "min" else value > st["best"])
        if better:
            st["best"], st["best_epoch"], st["bad_epochs"] = value, metrics["epoch"], 0
            task.save_model(self.out, best=True)
        else:
            st["bad_epochs"] += 1
        st["history"].append(metrics)
        with open(os.path.join(self.out, "metrics.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics, sort_keys=True) + "\n")
        if self.config.progress:
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
            print(json.dumps(shown), file=sys.stderr)
        if isinstance(self.schedule, schedules.ReduceLROnPlateau):
            self.schedule.step(value if mode == "min" else -value)
        elif self.schedule is not None:
            self.schedule.step()
        st["epoch"] += 1
        st["step_in_epoch"] = 0
        if self.config.patience and st["bad_epochs"] >= self.config.patience:
            st["stopped"] = True

    def finish(self):
        """Reload the best weights and compute the final held-out metrics into OUT/metrics.json."""
        self.task.load_best(self.out)
        final = self.task.final_metrics()
        final.update(best_epoch=self.state["best_epoch"], epochs_run=self.state["epoch"],
                     train_seconds=round(self.state["elapsed"], 2))
        atomic_write_json(os.path.join(self.out, "metrics.json"), final)
        return final


def _make_schedule(cfg, opt):
    if cfg.lr_schedule == "none":
        return None
    if cfg.lr_schedule == "plateau":
        return schedules.ReduceLROnPlateau(opt, factor=cfg.lr_factor, patience=0)
    if cfg.lr_schedule == "cosine":
        return schedules.CosineLR(opt, total=cfg.epochs, min_lr=cfg.lr * 0.01)
    if cfg.lr_schedule == "step":
        return schedules.StepLR(opt, step_size=1, gamma=cfg.lr_factor)
    raise ValueError(f"lr_schedule must be plateau, cosine, step or none, got {cfg.lr_schedule!r}")


def _rng_state(rng):
    return rng.bit_generator.state


def _progress(total, initial, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    # redrawn ten times a second on a terminal; into a log file, every 30 s
    return tqdm(total=total, initial=initial, desc=desc, unit="batch", leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 30.0)
