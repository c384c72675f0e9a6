"""charlm: a character (or word, ``--level word``) language model trained on one text, char-rnn style.

The text is split into train / val / test by position (the last 2% + 2% held out),
the training ids cut into B parallel streams, and each epoch walks them in chunks
of ``bptt`` steps, carrying the recurrent state from chunk to chunk.
"""
import math
import re
from collections import Counter

import numpy as np

from ..models.language_model import LanguageModel, LanguageModelConfig
from .base import Task, fill_by_size

UNK = "\ufffd"   # id 0: characters never seen in training


class CharVocab:
    def __init__(self, chars):
        self.itos = [UNK] + [c for c in chars if c != UNK]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    def encode(self, text):
        return np.fromiter((self.stoi.get(c, 0) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids)

    def __len__(self):
        return len(self.itos)


class WordVocab:
    """Words, punctuation marks and newlines as tokens; words rarer than ``min_freq`` become <unk> (id 0)."""

    TOKEN = re.compile(r"\n|\w+(?:['’]\w+)*|[^\w\s]")
    UNK = "<unk>"

    def __init__(self, words):
        self.itos = [self.UNK] + [w for w in words if w != self.UNK]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text, min_freq=2, max_size=30000):
        counts = Counter(cls.TOKEN.findall(text))
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls(words[: max_size - 1])

    def encode(self, text):
        return np.array([self.stoi.get(w, 0) for w in self.TOKEN.findall(text)], dtype=np.int64)

    def decode(self, ids):
        out = []
        for i in ids:
            w = self.itos[i]
            if out and w != "\n" and out[-1] != "\n" and not re.fullmatch(r"[^\w\s(]", w):
                out.append(" ")
            out.append(w)
        return "".join(out)

    def __len__(self):
        return len(self.itos)


VOCABS = {"char": CharVocab, "word": WordVocab}


def split_text(text, held_out=0.02):
    """Contiguous train / val / test; val and test are each ``held_out`` of the text, at its end."""
    n = len(text)
    k = max(1, int(n * held_out))
    if n < 10 * k or n < 100:
        raise ValueError(f"the text has {n} characters; charlm needs at least 100")
    return text[: n - 2 * k], text[n - 2 * k: n - k], text[n - k:]


def mean_loss(model, ids, streams=8, chunk=256):
    """Mean next-token loss over ``ids``, read as ``streams`` parallel streams with the state carried."""
    n = (len(ids) - 1) // streams
    if n < 1:
        streams, n = 1, len(ids) - 1
    data = ids[: n * streams + 1]
    state, total, count = None, 0.0, 0
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        x = np.stack([data[b * n + s: b * n + e] for b in range(streams)])
        y = np.stack([data[b * n + s + 1: b * n + e + 1] for b in range(streams)])
        loss, state = model.loss(x, y, state)
        total += loss * x.size
        count += x.size
    return total / count


def loss_metrics(split, loss, level):
    """Mean loss in nats plus bits per character (char level) or perplexity (word level)."""
    if level == "char":
        return {f"{split}_loss": float(loss), f"{split}_bpc": float(loss / math.log(2))}
    return {f"{split}_loss": float(loss), f"{split}_ppl": float(math.exp(loss))}


class CharLMTask(Task):
    name = "charlm"
    monitor = ("val_loss", "min")

    def __init__(self, text, model_config=None, batch=32, bptt=64, seed=0, vocab=None, data_name=""):
        train, val, test = split_text(text)
        cfg = model_config or LanguageModelConfig(vocab_size=1)
        if cfg.level not in VOCABS:
            raise ValueError(f"level must be 'char' or 'word', got {cfg.level!r}")
        self.vocab = vocab or VOCABS[cfg.level].from_text(train)
        cfg.vocab_size = len(self.vocab)
        super().__init__(LanguageModel(cfg), {"vocab": self.vocab.itos, "data": data_name,
                                              "batch": batch, "bptt": bptt})
        self.batch, self.bptt, self.seed = batch, bptt, seed
        ids = self.vocab.encode(train)
        n = (len(ids) - 1) // batch
        if n < bptt + 1:
            raise ValueError(f"training text too short for batch {batch} x bptt {bptt} ({len(ids)} characters)")
        self.streams = ids[: n * batch + 1]
        self.n = n
        self.val_ids, self.test_ids = self.vocab.encode(val), self.vocab.encode(test)

    def initial_carry(self):
        return None

    def carry_to_arrays(self, carry):
        if carry is None:
            return {}
        if isinstance(carry, tuple):
            return {"h": carry[0], "c": carry[1]}
        return {"h": carry}

    def carry_from_arrays(self, arrays):
        if not arrays:
            return None
        return (arrays["h"], arrays["c"]) if "c" in arrays else arrays["h"]

    def train_batches(self, epoch):
        # a different phase each epoch so chunk boundaries move
        offset = int(np.random.default_rng([self.seed, epoch]).integers(self.bptt))
        starts = range(offset, self.n - 1, self.bptt)
        return [(s, min(s + self.bptt, self.n - 1)) for s in starts if min(s + self.bptt, self.n - 1) > s]

    def _chunk(self, s, e):
        B, n = self.batch, self.n
        x = np.stack([self.streams[b * n + s: b * n + e] for b in range(B)])
        y = np.stack([self.streams[b * n + s + 1: b * n + e + 1] for b in range(B)])
        return x, y

    def train_step(self, batch, carry, rng):
        x, y = self._chunk(*batch)
        loss, grads, state = self.model.loss_and_grads(x, y, carry, training=True, rng=rng)
        return loss, grads, state, x.size

    def evaluate(self, split="val"):
        loss = mean_loss(self.model, self.val_ids if split == "val" else self.test_ids)
        return loss_metrics(split, loss, self.model.config.level)

    def final_metrics(self):
        return {**self.evaluate("val"), **self.evaluate("test")}


# ---------------------------------------------------------------------- command line
# A GRU: rnnlab's GRU step is faster than its LSTM step (and than PyTorch's GRU) on the CPU, so in
# the same minutes it takes more steps; it had the best validation bits/char on both ~1 MB texts of
# the sweep in docs/recipes.md (2.503 and 2.301 against the best LSTM's 2.525 and 2.365), and on the
# full Shakespeare corpus it was ahead of the LSTM in the README's 10-minute runs. --cell lstm for an LSTM.
DEFAULTS = {"data": "shakespeare", "level": "char", "cell": "gru", "embed": 64, "hidden": 256, "layers": 2, "dropout": None,
            "batch": 32, "bptt": 64, "epochs": 10, "lr": 2e-3}
# Defaults that depend on the training text's size in characters (docs/recipes.md has the sweep):
# a text of about 1 MB is seen several times within minutes and needs dropout (without it,
# validation on source code got worse from the third epoch on); on the full Shakespeare
# corpus (4.6 M training characters) dropout 0 was better in the same time.
SIZED = {"dropout": [(3_000_000, 0.25), (None, 0.0)]}


def load_text(data, limit=None):
    """A built-in corpus by name, or a user's UTF-8 text file."""
    from ..data import DATASETS, load_dataset, read_text

    if data in DATASETS:
        text = load_dataset(data)
        if not isinstance(text, str):
            raise ValueError(f"dataset {data!r} is not a text corpus; charlm needs one (e.g. shakespeare)")
    else:
        text = read_text(data)
    return text[:limit] if limit else text


def build(s):
    """The task for settings ``s``; fills the size-dependent settings the user left unset (see SIZED)."""
    text = load_text(s["data"], s.get("limit"))
    fill_by_size(s, len(split_text(text)[0]), SIZED)
    cfg = LanguageModelConfig(vocab_size=1, level=s["level"], cell=s["cell"], embed=s["embed"], hidden=s["hidden"],
                              layers=s["layers"], dropout=s["dropout"], seed=s["seed"])
    return CharLMTask(text, cfg, batch=s["batch"], bptt=s["bptt"], seed=s["seed"], data_name=str(s["data"]))


def _vocab(run, model):
    return VOCABS[model.config.level](run["vocab"][1:])


def generate(run, model, args):
    vocab = _vocab(run, model)
    prime = args.prime if args.prime else "\n"
    ids = vocab.encode(prime)
    if model.config.level == "char":
        unknown = sorted({c for c in prime if c not in vocab.stoi})
        if unknown:
            raise ValueError(f"--prime has characters the model never saw: {''.join(unknown)!r}")
    else:
        unknown = [w for w in WordVocab.TOKEN.findall(prime) if w not in vocab.stoi]
        if unknown:
            raise ValueError(f"--prime has words the model never saw (they would be read as <unk>): "
                             f"{' '.join(unknown[:10])}")
        if len(ids) == 0:
            ids = vocab.encode("\n")
    out = model.sample(ids, args.length or 500, temperature=args.temperature, top_k=args.top_k,
                       top_p=args.top_p, seed=args.seed)
    sep = "" if model.config.level == "char" or prime.endswith(("\n", " ")) else " "
    return prime + sep + vocab.decode(out)


def evaluate(run, model, settings, data=None):
    vocab = _vocab(run, model)
    if data is None:
        _, _, test = split_text(load_text(settings.get("data", "shakespeare"), settings.get("limit")))
        text, split = test, "test"
    else:
        text, split = load_text(data), "data"
    loss = mean_loss(model, vocab.encode(text))
    return {**loss_metrics(split, loss, model.config.level), "characters": len(text)}
