"""Same data, same split, same wall-clock budget: rnnlab with its defaults vs a standard PyTorch model.

    python benchmarks/compare.py                      # every row, then the table (docs/compare.md)
    python benchmarks/compare.py --rows charlm        # the rows of some tasks only
    python benchmarks/compare.py --table-only
    python benchmarks/compare.py --write README.md    # the table into README.md's same-budget section

Per row, two fresh processes on one thread each, both with the budget counted in CPU seconds
of the process (see cpu_clock.py: on a shared machine the wall clock would hand each side a
different share of a core):

- rnnlab: `rnnlab --threads 1 train TASK --data D --epochs 100000 --max-time BUDGET`, nothing
  else: the defaults as a user gets them. Where the sweep (sweep.py) already ran exactly these
  settings (its args.json equal in every key, seed included), that run is the row.
- PyTorch: the plain reference model of the task (below), built on rnnlab's own data
  pipeline for that task (same vocabulary, split, batches and their order), trained with
  Adam, gradient-norm clipping at 5, validation after every epoch and when the time is
  up, the best-validation weights kept, and the learning-rate schedule rnnlab's task
  uses; then scored on the test split by rnnlab's metric code.

Each finished run is saved to RESULTS/<row>/<rnnlab|pytorch>.json and skipped next time.

The reference models:
    charlm  nn.Embedding(V, 64) -> nn.LSTM(64, 256, 2 layers, dropout 0.25) -> nn.Dropout(0.25) -> nn.Linear(256, V),
            and the same with nn.GRU (side pytorch-gru)
    tag     nn.Embedding(V, 100) -> nn.Dropout(0.5) -> bidirectional nn.LSTM(100, 128) -> nn.Dropout(0.5)
            -> nn.Linear(256, K); softmax per token, no character features, no CRF
    seq2seq nn.Embedding(S, 64) -> bidirectional nn.LSTM(64, 256) encoder, its final states through
            Linear + tanh into an nn.LSTM(64, 256) decoder, Luong "general" attention, tanh(W[c; h]),
            nn.Linear(256, V); greedy decoding
    classify nn.Embedding(V, 100) -> nn.LSTM(100, 128) over the packed snippet -> last hidden state
            -> nn.Dropout(0.3) -> nn.Linear(128, K); batch 32
"""
import argparse
import functools
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import userdata  # noqa: E402

CPU_CLOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpu_clock.py")

# (task, label, --data, budget in seconds); the metric shown is the test split's
ROWS = [
    ("charlm", "code 0.9 MB", "code.txt", 120),
    ("charlm", "Shakespeare 1 MB", "shakespeare_1mb.txt", 120),
    ("tag", "WNUT-16 450 sentences", "wnut16_450.conll", 90),
    ("tag", "WNUT-16 2,394 tweets", "wnut16", 90),
    ("seq2seq", "CMUdict 20k pairs", "cmudict_20k.tsv", 90),
    ("seq2seq", "CMUdict 2k pairs", "cmudict_2k.tsv", 90),
    ("tag", "Turkish UPOS 450 sentences", "turkish_450.conll", 90),
    ("seq2seq", "Bible en-es 2k short verses", "bible_2k.tsv", 120),
    ("classify", "Rotten Tomatoes 400 snippets", "rt_400.csv", 90),
    ("classify", "Rotten Tomatoes 12.7k snippets", "rotten_tomatoes", 90),
    ("classify", "Turkish register 400 sentences", "turkish_register_400.csv", 90),
    ("classify", "Turkish register 4,851 sentences", "turkish_register", 90),
]
METRIC = {"charlm": ("test_bpc", "min"), "tag": ("f1", "max"), "seq2seq": ("test_wer", "min"),
          "classify": ("accuracy", "max")}
# rows scored otherwise: POS tags have no entities (token accuracy); translation: chrF (BLEU is near 0 this early)
ROW_METRIC = {"Turkish UPOS 450 sentences": ("accuracy", "max"), "Bible en-es 2k short verses": ("test_chrf", "max")}


def row_metric(task, label):
    return ROW_METRIC.get(label, METRIC[task])
REFERENCE = {
    "charlm": {"embed": 64, "hidden": 256, "layers": 2, "dropout": 0.25, "lr": 2e-3, "batch": 32, "bptt": 64},
    "tag": {"embed": 100, "hidden": 128, "dropout": 0.5, "lr": 2e-3, "batch": 32},
    "seq2seq": {"embed": 64, "hidden": 256, "lr": 2e-3, "batch": 64},
    "classify": {"embed": 100, "hidden": 128, "dropout": 0.3, "lr": 2e-3, "batch": 32},
}


# ---------------------------------------------------------------------- the PyTorch side
def task_settings(task, data, overrides):
    """rnnlab's full settings for TASK on DATA, so its data pipeline builds the same split and batches."""
    from rnnlab.tasks import COMMON, task_module

    mod = task_module(task)
    return mod, {**COMMON, **mod.DEFAULTS, "task": task, "data": data, **overrides}


class CharRNN:
    """The charlm reference (an LSTM, or a GRU with ``cell="gru"``), and the ``loss(x, y, state)``
    rnnlab's mean_loss scores it through."""

    def __init__(self, vocab_size, c):
        import torch
        from torch import nn

        torch.manual_seed(c.get("seed", 0))
        self.torch = torch
        self.net = nn.ModuleDict({
            "embed": nn.Embedding(vocab_size, c["embed"]),
            "rnn": {"lstm": nn.LSTM, "gru": nn.GRU}[c["cell"]](c["embed"], c["hidden"], c["layers"],
                                                             dropout=c["dropout"], batch_first=True),
            "drop": nn.Dropout(c["dropout"]),
            "out": nn.Linear(c["hidden"], vocab_size)})

    def logits(self, x, state):
        y, state = self.net["rnn"](self.net["embed"](x), state)
        return self.net["out"](self.net["drop"](y)), state

    def loss(self, x, y, state=None):
        torch = self.torch
        self.net.eval()
        with torch.no_grad():
            logits, state = self.logits(torch.from_numpy(x), state)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.from_numpy(y).flatten())
        return float(loss), state


class BiLSTMTagger:
    """The tag reference, and the ``decode(...)`` rnnlab's score() tags through."""

    def __init__(self, vocab_size, num_tags, c):
        import torch
        from torch import nn

        torch.manual_seed(c.get("seed", 0))
        self.torch = torch
        self.net = nn.ModuleDict({
            "embed": nn.Embedding(vocab_size, c["embed"], padding_idx=0),
            "drop": nn.Dropout(c["dropout"]),
            "lstm": nn.LSTM(c["embed"], c["hidden"], bidirectional=True, batch_first=True),
            "out": nn.Linear(2 * c["hidden"], num_tags)})

    def scores(self, ids, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        e = self.net["drop"](self.net["embed"](self.torch.from_numpy(ids)))
        packed = pack_padded_sequence(e, self.torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        y, _ = self.net["lstm"](packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=ids.shape[1])
        return self.net["out"](self.net["drop"](y))                        # (B, T, K)

    def decode(self, ids, lengths, chars=None, char_lengths=None, labels=None):
        self.net.eval()
        with self.torch.no_grad():
            best = self.scores(ids, lengths).argmax(-1).numpy()
        return [best[b, :int(n)].tolist() for b, n in enumerate(lengths)]


class AttentionSeq2Seq:
    """The seq2seq reference: BiLSTM encoder, LSTM decoder with Luong (general) attention, and the
    ``loss`` / ``greedy_decode`` rnnlab's score_groups scores it through."""

    def __init__(self, src_vocab, tgt_vocab, c):
        import torch
        from torch import nn

        torch.manual_seed(c.get("seed", 0))
        self.torch, H = torch, c["hidden"]
        self.net = nn.ModuleDict({
            "src_embed": nn.Embedding(src_vocab, c["embed"], padding_idx=0),
            "tgt_embed": nn.Embedding(tgt_vocab, c["embed"], padding_idx=0),
            "encoder": nn.LSTM(c["embed"], H, bidirectional=True, batch_first=True),
            "bridge_h": nn.Linear(2 * H, H), "bridge_c": nn.Linear(2 * H, H),
            "decoder": nn.LSTM(c["embed"], H, batch_first=True),
            "score": nn.Linear(2 * H, H, bias=False),              # h_t . W m_s
            "combine": nn.Linear(3 * H, H), "out": nn.Linear(H, tgt_vocab)})

    def encode(self, src, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        torch, n = self.torch, self.net
        packed = pack_padded_sequence(n["src_embed"](torch.from_numpy(src)), torch.as_tensor(lengths),
                                      batch_first=True, enforce_sorted=False)
        memory, (h, c) = n["encoder"](packed)
        memory, _ = pad_packed_sequence(memory, batch_first=True, total_length=src.shape[1])   # (B, S, 2H)
        state = (torch.tanh(n["bridge_h"](torch.cat([h[0], h[1]], -1)))[None],
                 torch.tanh(n["bridge_c"](torch.cat([c[0], c[1]], -1)))[None])
        mask = torch.from_numpy(np.arange(src.shape[1])[None, :] < np.asarray(lengths)[:, None])
        return memory, mask, state

    def decode(self, tgt_in, state, memory, mask):
        """Teacher-forced (or one-step) decoder: tgt_in (B, T) -> logits (B, T, V), state."""
        n = self.net
        y, state = n["decoder"](n["tgt_embed"](tgt_in), state)                        # (B, T, H)
        scores = y @ n["score"](memory).transpose(1, 2)                               # (B, T, S)
        weights = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        context = weights @ memory                                                    # (B, T, 2H)
        return n["out"](self.torch.tanh(n["combine"](self.torch.cat([context, y], -1)))), state

    def batch_loss(self, src, lengths, tgt_in, tgt_out):
        torch = self.torch
        memory, mask, state = self.encode(src, lengths)
        logits, _ = self.decode(torch.from_numpy(tgt_in), state, memory, mask)
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.from_numpy(tgt_out).flatten(),
                                                 ignore_index=0)

    def loss(self, src, lengths, tgt_in, tgt_out):
        self.net.eval()
        with self.torch.no_grad():
            return float(self.batch_loss(src, lengths, tgt_in, tgt_out))

    def greedy_decode(self, src, lengths, bos, eos, max_len=100):
        torch = self.torch
        self.net.eval()
        with torch.no_grad():
            memory, mask, state = self.encode(src, lengths)
            tok = torch.full((src.shape[0], 1), bos, dtype=torch.long)
            steps = []
            for _ in range(max_len):
                logits, state = self.decode(tok, state, memory, mask)
                tok = logits.argmax(-1)
                steps.append(tok[:, 0].numpy())
                if (np.stack(steps) == eos).any(axis=0).all():
                    break
        ids = []
        for row in np.stack(steps, axis=1).tolist():
            ids.append(row[:row.index(eos) + 1] if eos in row else row)
        return ids, [None] * len(ids)


class LSTMClassifier:
    """The classify reference, and the ``predict_proba(ids, lengths)`` rnnlab's score() reads."""

    def __init__(self, vocab_size, num_classes, c):
        import types

        import torch
        from torch import nn

        torch.manual_seed(c.get("seed", 0))
        self.torch = torch
        self.config = types.SimpleNamespace(num_classes=num_classes)
        self.net = nn.ModuleDict({
            "embed": nn.Embedding(vocab_size, c["embed"], padding_idx=0),
            "lstm": nn.LSTM(c["embed"], c["hidden"], batch_first=True),
            "drop": nn.Dropout(c["dropout"]),
            "out": nn.Linear(c["hidden"], num_classes)})

    def logits(self, ids, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence

        torch = self.torch
        packed = pack_padded_sequence(self.net["embed"](torch.from_numpy(ids)), torch.as_tensor(lengths),
                                      batch_first=True, enforce_sorted=False)
        _, (h, _) = self.net["lstm"](packed)
        return self.net["out"](self.net["drop"](h[-1]))

    def predict_proba(self, ids, lengths):
        self.net.eval()
        with self.torch.no_grad():
            return self.logits(ids, lengths).softmax(-1).double().numpy()


def reference_task(name, data, seed, **extra):
    """(reference settings, task module, rnnlab settings, built task) for TASK NAME on DATA: rnnlab's own
    data pipeline with the reference's batch (and ``extra`` of the reference's keys) and ``seed``."""
    c = {**REFERENCE[name], **extra, "seed": seed}
    mod, s = task_settings(name, data, {k: c[k] for k in ("batch", "bptt") if k in c} | {"seed": seed})
    return c, mod, s, mod.build(s)


def torch_charlm(data, budget, cell="lstm", seed=0):
    import torch

    c, mod, s, task = reference_task("charlm", data, seed, cell=cell)
    model = CharRNN(len(task.vocab), c)

    def step(batch, state):
        x, y = (torch.from_numpy(a) for a in task._chunk(*batch))
        if state is not None:
            state = tuple(t.detach() for t in state) if isinstance(state, tuple) else state.detach()
        logits, state = model.logits(x, state)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        return loss, state

    def validate():
        return mod.mean_loss(model, task.val_ids)

    def test():
        return {"test_bpc": mod.mean_loss(model, task.test_ids) / math.log(2)}

    return fit(model.net, task.train_batches, step, validate, "min", test, c["lr"], s["lr_schedule"], budget,
               carry=True)


def torch_tag(data, budget, seed=0):
    import torch

    c, mod, s, task = reference_task("tag", data, seed)
    from rnnlab.models.tagger import make_batch

    model = BiLSTMTagger(len(task.enc.vocab), len(task.enc.labels), c)

    def step(idx, state):
        b = make_batch([task.train_ids[i] for i in idx], [task.train_tags[i] for i in idx])
        scores = model.scores(b.ids, b.lengths)
        mask = torch.from_numpy(np.arange(b.ids.shape[1])[None, :] < b.lengths[:, None])
        loss = torch.nn.functional.cross_entropy(scores[mask], torch.from_numpy(b.tags)[mask])
        return loss, None

    def validate():   # what rnnlab's tagger monitors: entity F1 for BIO tags, else token accuracy
        return mod.score(model, task.enc, task.held_out["val"])[task.monitor[0]]

    def test():
        return mod.score(model, task.enc, task.held_out["test"])

    return fit(model.net, task.train_batches, step, validate, task.monitor[1], test, c["lr"], s["lr_schedule"],
               budget)


def torch_seq2seq(data, budget, seed=0):
    c, mod, s, task = reference_task("seq2seq", data, seed)
    model = AttentionSeq2Seq(len(task.codec.src_vocab), len(task.codec.tgt_vocab), c)
    from rnnlab.data.splits import pad_batch

    def step(idx, state):
        src, lengths = pad_batch([task.train_src[i] for i in idx])
        tgt_in, tgt_out, _ = mod.teacher_forcing([task.train_tgt[i] for i in idx], task.codec.bos, task.codec.eos)
        return model.batch_loss(src, lengths, tgt_in, tgt_out), None

    def validate():   # what rnnlab's seq2seq monitors: the WER for g2p, the loss for translation
        return mod.score_groups(model, task.codec, task.groups["val"])[task.monitor[0].removeprefix("val_")]

    def test():
        return {f"test_{k}": v for k, v in mod.score_groups(model, task.codec, task.groups["test"]).items()}

    return fit(model.net, task.train_batches, step, validate, task.monitor[1], test, c["lr"], s["lr_schedule"],
               budget)


def fit(net, batches_of, step, validate, mode, test, lr, schedule, budget, carry=False):
    """rnnlab's Trainer loop in PyTorch: epochs of batches, clip 5, validate per epoch and at the budget."""
    import copy

    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=0) \
        if schedule == "plateau" else None
    best, best_state, steps, epoch, t0 = None, None, 0, 0, time.process_time()
    out_of_time = False
    while not out_of_time:
        state = None
        net.train()
        for batch in batches_of(epoch):
            loss, state = step(batch, state if carry else None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            steps += 1
            if time.process_time() - t0 >= budget:
                out_of_time = True
                break
        value = validate()
        epoch += 1
        if best is None or (value < best if mode == "min" else value > best):
            best, best_state = value, copy.deepcopy(net.state_dict())
        if plateau is not None:
            plateau.step(value)
    seconds = time.process_time() - t0
    net.load_state_dict(best_state)
    return {**test(), "val": best, "steps": steps, "epochs": epoch, "train_seconds": round(seconds, 2)}


def torch_classify(data, budget, seed=0):
    import torch

    c, mod, s, task = reference_task("classify", data, seed)
    from rnnlab.data.splits import pad_batch

    model = LSTMClassifier(len(task.vocab), len(task.labels), c)
    ids, labels = task.splits["train"]

    def step(idx, state):
        x, lengths = pad_batch([ids[i] for i in idx])
        return torch.nn.functional.cross_entropy(model.logits(x, lengths), torch.from_numpy(labels[idx])), None

    def validate():
        return mod.score(model, *task.splits["val"], len(task.labels))["accuracy"]

    def test():
        return mod.score(model, *task.splits["test"], len(task.labels))

    return fit(model.net, task.train_batches, step, validate, "max", test, c["lr"], s["lr_schedule"], budget)


TORCH_RUNS = {"charlm": torch_charlm, "tag": torch_tag, "seq2seq": torch_seq2seq, "classify": torch_classify}


# ---------------------------------------------------------------------- running and the table
def run_rnnlab(task, data, budget, out, seed=0, openblas_default=False):
    cmd = [sys.executable, CPU_CLOCK, "--threads", "1", "train", task, "--data", data,
           "--epochs", "100000", "--max-time", str(budget), "--quiet", "--out", out] + \
          (["--seed", str(seed)] if seed else []) + (["--overwrite"] if os.path.exists(out) else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_one_thread(openblas_default))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    final = json.loads(proc.stdout.strip().splitlines()[-1])
    with open(os.path.join(out, "metrics.jsonl")) as f:
        last = json.loads(f.read().strip().splitlines()[-1])
    with open(os.path.join(out, "args.json")) as f:
        settings = json.load(f)
    return {**final, "steps": last["step"], "epochs": last["epoch"], "settings": settings}


def default_settings(task, data, budget):
    """The settings `rnnlab train TASK --data DATA --epochs 100000 --max-time BUDGET` runs with."""
    mod, s = task_settings(task, data, {"epochs": 100000, "max_time": float(budget)})
    mod.build(s)                                    # fills the data-size-dependent defaults
    return json.loads(json.dumps(s))


def sweep_run_with(settings, sweep_results):
    """A finished sweep run (its folder) whose args.json equals ``settings``, or None."""
    import glob

    for args_path in sorted(glob.glob(os.path.join(sweep_results, settings["task"], "*", "*", "args.json"))):
        folder = os.path.dirname(args_path)
        with open(args_path) as f:
            if json.load(f) == settings and os.path.exists(folder + ".json"):
                return folder
    return None


def reuse_sweep_run(folder):
    """The rnnlab row from a sweep run of exactly the default settings (same command, same seed)."""
    with open(folder + ".json") as f:
        final = json.load(f)["final"]
    with open(os.path.join(folder, "metrics.jsonl")) as f:
        last = json.loads(f.read().strip().splitlines()[-1])
    with open(os.path.join(folder, "args.json")) as f:
        settings = json.load(f)
    return {**final, "steps": last["step"], "epochs": last["epoch"], "settings": settings, "sweep_run": folder}


def run_torch(task, data, budget, side, seed=0):
    """In a fresh process on one thread: the reference model's result dict (side pytorch-gru: a GRU)."""
    extra = (", cell='gru'" if side == "pytorch-gru" else "") + f", seed={seed}"
    code = (f"import sys, json; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import torch; torch.set_num_threads(1); import compare; "
            f"print(json.dumps(compare.TORCH_RUNS[{task!r}]({data!r}, {budget!r}{extra})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_one_thread())
    if proc.returncode != 0:
        raise RuntimeError(f"PyTorch {task} on {data} failed:\n{proc.stderr[-2000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "settings": REFERENCE[task],
            "cell": "gru" if side == "pytorch-gru" else "lstm"}


# --openblas-default: run rnnlab as on a machine that does not set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
# (OpenBLAS then picks its kernels for the CPU it finds); PyTorch does not use OpenBLAS either way
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _one_thread(openblas_default=False):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for name in OPENBLAS_VARIABLES if openblas_default else ():
        env.pop(name, None)
    return env


@functools.lru_cache(maxsize=None)
def blas_kernel(openblas_default=False):
    """The OpenBLAS kernel NumPy runs with in rnnlab's processes (threadpoolctl's 'architecture')."""
    code = ("import numpy, threadpoolctl; print(','.join(i.get('architecture') or '?' for i in "
            "threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_one_thread(openblas_default))
    return proc.stdout.strip() or "unknown"


def row_dir(results, task, label):
    return os.path.join(results, task + "_" + "".join(c if c.isalnum() else "_" for c in label))


def result_file(folder, side, seed):
    return os.path.join(folder, f"{side}.json" if seed == 0 else f"{side}-seed{seed}.json")


def selected_rows(tasks, labels=None):
    """The ROWS of these tasks (and, given ``labels``, whose data label contains one of them)."""
    return [row for row in ROWS if row[0] in tasks and (not labels or any(x in row[1] for x in labels))]


def run_rows(tasks, results, files, sides, sweep_results, seeds=(0,), labels=None, openblas_default=False):
    for task, label, data, budget in selected_rows(tasks, labels):
        folder = row_dir(results, task, label)
        os.makedirs(folder, exist_ok=True)
        for seed in seeds:
            for side in sides:
                if side == "pytorch-gru" and task != "charlm":
                    continue
                path = result_file(folder, side, seed)
                if os.path.exists(path):
                    continue
                print(f"{task} | {label} | {side} | seed {seed} ...", flush=True)
                t0 = time.monotonic()
                d = files.get(data, data)
                if side.startswith("pytorch"):
                    rec = run_torch(task, d, budget, side, seed)
                else:
                    same = seed == 0 and sweep_results and sweep_run_with(default_settings(task, d, budget),
                                                                          sweep_results)
                    rec = reuse_sweep_run(same) if same else run_rnnlab(
                        task, d, budget, os.path.join(folder, "rnnlab_run" + (f"-seed{seed}" if seed else "")), seed,
                        openblas_default)
                rec.update(wall_seconds=round(time.monotonic() - t0, 1), budget=budget, data=data, seed=seed,
                           load_average=os.getloadavg()[0])
                if side == "rnnlab":
                    rec["blas_kernel"] = blas_kernel(openblas_default)
                with open(path + ".tmp", "w") as f:
                    json.dump(rec, f, indent=1, sort_keys=True)
                os.replace(path + ".tmp", path)
                key = row_metric(task, label)[0]
                print(f"    {key} {rec[key]:.4f}  steps {rec['steps']}", flush=True)


REFERENCE_NAMES = {"pytorch": "LSTM", "pytorch-gru": "GRU"}


def seed_results(folder, side):
    """{seed: result} of one side of a row (seed 0 in SIDE.json, others in SIDE-seedN.json)."""
    import glob

    got = {}
    for path in glob.glob(os.path.join(folder, f"{side}*.json")):
        tail = os.path.basename(path)[len(side):-len(".json")]
        if tail == "" or (tail.startswith("-seed") and tail[5:].isdigit()):
            with open(path) as f:
                got[int(tail[5:]) if tail else 0] = json.load(f)
    return got


def _show_values(values):
    """One seed: its value; several: the mean and each seed's value."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ({', '.join(f'{v:.3f}' for v in values)})"


def table(results):
    """The README table; where both sides ran several seeds, each side's mean over the seeds both ran."""
    lines = ["| task | data | budget | held-out metric | rnnlab (defaults) | PyTorch reference | steps rnnlab / PyTorch |",
             "|---|---|---|---|---|---|---|"]
    for task, label, _, budget in ROWS:
        folder = row_dir(results, task, label)
        got = {side: seed_results(folder, side) for side in ("rnnlab", *REFERENCE_NAMES)}
        key, mode = row_metric(task, label)
        name = {"test_bpc": "test bits/char (lower is better)", "f1": "test entity F1 (higher is better)",
                "test_wer": "test word error rate (lower is better)", "test_chrf": "test chrF (higher is better)",
                "accuracy": f"test {'token ' if task == 'tag' else ''}accuracy (higher is better)"}[key]
        mine_all = got["rnnlab"]
        for side in [s for s in REFERENCE_NAMES if got[s]] or ([None] if mine_all else []):
            ref_all = got[side] if side else {}
            seeds = sorted(set(mine_all) & set(ref_all)) or sorted(mine_all or ref_all)
            mine = [mine_all[k] for k in seeds if k in mine_all]
            ref = [ref_all[k] for k in seeds if k in ref_all]
            show = {"rnnlab": _show_values([r[key] for r in mine]) if mine else "—",
                    "ref": _show_values([r[key] for r in ref]) if ref else "—"}
            if mine and ref:
                m, r = np.mean([x[key] for x in mine]), np.mean([x[key] for x in ref])
                if m != r:
                    better = m < r if mode == "min" else m > r
                    won = "rnnlab" if better else "ref"
                    head, _, rest = show[won].partition(" ")
                    show[won] = f"**{head}**" + (" " + rest if rest else "")
            cell = mine[0]["settings"].get("cell", "lstm").upper() if mine else ""
            ref_name = f"{show['ref']} ({REFERENCE_NAMES[side]})" if task == "charlm" and ref else show["ref"]
            mine_name = f"{show['rnnlab']} ({cell})" if task == "charlm" and mine else show["rnnlab"]
            steps = (f"{round(np.mean([x['steps'] for x in mine])) if mine else '—'} / "
                     f"{round(np.mean([x['steps'] for x in ref])) if ref else '—'}")
            lines.append(f"| {task} | {label} | {budget} CPU s | {name} | {mine_name} | {ref_name} | {steps} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", default=sorted(TORCH_RUNS), choices=sorted(TORCH_RUNS), help="tasks")
    p.add_argument("--sides", nargs="+", default=["rnnlab", "pytorch", "pytorch-gru"],
                   choices=["rnnlab", "pytorch", "pytorch-gru"], help="pytorch-gru: charlm's GRU reference")
    p.add_argument("--results", default="runs/compare")
    p.add_argument("--data-dir", default="runs/userdata")
    p.add_argument("--sweep-results", default="runs/sweep", help="take the rnnlab row from a finished sweep run "
                   "whose settings equal the defaults' exactly, instead of training again ('' : always train)")
    p.add_argument("--labels", nargs="+", help="only rows whose data label contains one of these strings")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds to run for each side (default 0); "
                   "the table shows each side's mean over the seeds both sides ran")
    p.add_argument("--openblas-default", action="store_true", help="run rnnlab with OPENBLAS_CORETYPE and "
                   "OPENBLAS_L2_SIZE removed from its environment (the other kind of machine); use another --results")
    p.add_argument("--marker", default="compare table", help="the `<!-- MARKER: begin/end -->` pair --write fills")
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--write", help="also put the table between the `compare table` markers of this file")
    args = p.parse_args()
    if not args.table_only:
        files = userdata.make_all(args.data_dir, [row[2] for row in selected_rows(args.rows, args.labels)])
        run_rows(args.rows, args.results, files, args.sides, args.sweep_results,
                 args.seeds, args.labels, args.openblas_default)
    text = table(args.results)
    print(text)
    if args.write:
        import sweep

        sweep.replace_between(args.write, args.marker, text)


if __name__ == "__main__":
    main()
