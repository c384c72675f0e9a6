"""tag: many-to-many of equal length, one tag per token (NER with BIO tags, POS tagging).

Data: a built-in tagging dataset (peoples_daily, peoples_daily_pos, wnut16, turkish_pos)
or a CoNLL-style file (token first column, tag last column, a blank line between
sentences). ``--limit N`` keeps the first N sentences. Exact duplicate sentences
(same tokens and tags) are dropped before the seeded 80/10/10 split, so no held-out
sentence was also trained on.

Training cuts sentences longer than MAX_LEN tokens into MAX_LEN-token pieces (the
cost of a step grows with the longest sentence of its batch; nothing is thrown
away). Validation, test and prediction always see whole sentences.

Tokens seen fewer than ``min_freq`` times in the training split map to <unk>, so the
model learns an <unk> vector for the unknown words it will meet on held-out text. On
word-level data a character BiLSTM (``char_embed`` units, see models/tagger.py) reads
each token's spelling, which is all the model knows of an <unk> word (capitals, @, #,
suffixes); character-level corpora (every token one character, e.g. People's Daily)
leave it out.

Metrics: when the tag set is BIO (O, B-X, I-X), entity-level precision / recall / F1
by seqeval in its default (conlleval) mode, which is monitored; otherwise token
accuracy. Token accuracy is reported in both cases.
"""
import re

import numpy as np

from ..data.splits import bucket_batches, split
from ..data.tokenize import _CJK, Vocab
from ..models.tagger import SequenceTagger, TaggerConfig, is_bio, make_batch
from .base import Task, fill_by_size

MAX_LEN = 150          # training pieces are at most this many tokens
EVAL_TOKENS = 8192     # padded tokens per evaluation batch (B * T), bounds the caches' memory
FRACTIONS = (0.8, 0.1, 0.1)


# ---------------------------------------------------------------------- data
def load_sentences(data, limit=None):
    """[(tokens, tags)] of a built-in dataset name or a CoNLL file, the first ``limit`` of them."""
    from ..data import DATASETS, load_dataset, read_conll

    if data in DATASETS:
        if DATASETS[data].task != "tag":
            raise ValueError(f"dataset {data!r} is a {DATASETS[data].task} dataset; tag needs one of "
                             f"{', '.join(n for n, d in DATASETS.items() if d.task == 'tag')} or a CoNLL file")
        sentences = [(list(t), list(g)) for t, g in load_dataset(data)]
    else:
        sentences = read_conll(data)
    return sentences[:limit] if limit else sentences


def dedupe(sentences):
    """The sentences without exact repeats (same tokens and tags), first occurrence kept, order kept."""
    seen, out = set(), []
    for tokens, tags in sentences:
        key = (tuple(tokens), tuple(tags))
        if key not in seen:
            seen.add(key)
            out.append((tokens, tags))
    return out


def split_sentences(sentences, seed):
    """Deterministic (train, val, test) of the de-duplicated sentences."""
    parts = split(dedupe(sentences), fractions=FRACTIONS, seed=seed)
    if not all(parts):
        raise ValueError(f"tag needs at least 10 distinct sentences to split into train/val/test, "
                         f"got {len(dedupe(sentences))}")
    return parts


def pieces(tokens, tags, max_len=MAX_LEN):
    """A sentence cut into consecutive pieces of at most max_len tokens."""
    return [(tokens[i:i + max_len], tags[i:i + max_len]) for i in range(0, len(tokens), max_len)]


def tokenize(text, char_level, vocab=None):
    """Tokens of one input line: every non-space character (char-level models), else
    whitespace-separated words with each CJK character a token of its own, and punctuation
    split off the ends of a word the vocabulary does not know ("Paris." -> "Paris", ".")."""
    if char_level:
        return [c for c in text if not c.isspace()]
    tokens = []
    for word in re.findall(rf"[{_CJK}]|[^\s{_CJK}]+", text):
        m = re.fullmatch(r"([^\w]*)(.*?)([^\w]*)", word)
        if vocab is not None and word in vocab or not m.group(2):
            tokens.append(word)
        else:
            tokens += list(m.group(1)) + [m.group(2)] + list(m.group(3))
    return tokens


def bio_entities(tags):
    """(type, start, end) spans of BIO tags, end exclusive, with conlleval's reading:
    an entity is a B-X or I-X followed by I-X of the same type; an I-X after O or after
    another type starts a new entity."""
    spans, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, typ = tag.partition("-")
        continuing = prefix == "I" and start is not None and typ == kind
        if start is not None and not continuing:
            spans.append((kind, start, i))
            start = kind = None
        if prefix in ("B", "I") and not continuing:
            start, kind = i, typ
    return spans


# ---------------------------------------------------------------------- encoding and scoring
class Encoder:
    """Tokens -> word ids (and char ids); tag names <-> ids. Rebuilt from a run's config.json."""

    def __init__(self, vocab, labels, chars=None, char_level=False):
        self.vocab, self.labels, self.chars, self.char_level = vocab, list(labels), chars, char_level
        self.tag_id = {t: i for i, t in enumerate(self.labels)}
        self.bio = is_bio(self.labels)

    def encode(self, token_lists, tag_lists=None):
        """Lists of tokens (and tags, all known) -> (word id lists, tag id lists or None, char id lists or None)."""
        ids = [self.vocab.encode(t) for t in token_lists]
        tags = None if tag_lists is None else [[self.tag_id[g] for g in gs] for gs in tag_lists]
        chars = None if self.chars is None else [[self.chars.encode(w) for w in t] for t in token_lists]
        return ids, tags, chars

    def to_json(self):
        return {"vocab": self.vocab.to_json(), "labels": self.labels,
                "chars": None if self.chars is None else self.chars.to_json(), "char_level": self.char_level}

    @classmethod
    def from_run(cls, run):
        chars = Vocab.from_json(run["chars"]) if run.get("chars") else None
        return cls(Vocab.from_json(run["vocab"]), run["labels"], chars, bool(run.get("char_level")))


def tag_all(model, enc, token_lists):
    """Predicted tag names for every sentence (whole sentences, length-sorted batches)."""
    order = np.argsort([len(t) for t in token_lists], kind="stable")
    out = [None] * len(token_lists)
    i = 0
    while i < len(order):
        longest = len(token_lists[order[i]])
        j = i + 1
        while j < len(order) and (j - i + 1) * max(longest, len(token_lists[order[j]])) <= EVAL_TOKENS:
            longest = max(longest, len(token_lists[order[j]]))
            j += 1
        idx = order[i:j]
        ids, _, chars = enc.encode([token_lists[k] for k in idx])
        b = make_batch(ids, None, chars)
        for k, path in zip(idx, model.decode(b.ids, b.lengths, b.chars, b.char_lengths, labels=enc.labels)):
            out[k] = [enc.labels[t] for t in path]
        i = j
    return out


def score(model, enc, sentences):
    """Metrics of the model on [(tokens, tags)]: entity P/R/F1 (BIO tag sets) and token accuracy."""
    gold = [list(g) for _, g in sentences]
    pred = tag_all(model, enc, [t for t, _ in sentences])
    n = sum(len(g) for g in gold)
    correct = sum(p == g for ps, gs in zip(pred, gold) for p, g in zip(ps, gs))
    metrics = {"accuracy": correct / n, "sentences": len(sentences), "tokens": n}
    if enc.bio:
        try:
            from seqeval.metrics import f1_score, precision_score, recall_score
        except ImportError:
            raise ImportError("entity-level scores need seqeval: pip install seqeval") from None
        kw = {"zero_division": 0}   # no predicted (or no gold) entities: 0, without a warning
        metrics.update(precision=float(precision_score(gold, pred, **kw)), recall=float(recall_score(gold, pred, **kw)),
                       f1=float(f1_score(gold, pred, **kw)))
    return metrics


# ---------------------------------------------------------------------- the task
class TagTask(Task):
    name = "tag"

    def __init__(self, sentences, settings):
        s = settings
        train, val, test = split_sentences(sentences, s["seed"])
        tokens = [t for t, _ in train]
        char_level = all(len(w) == 1 for t in tokens for w in t)
        char_embed = 0 if char_level else s["char_embed"]     # a char BiLSTM over one character adds nothing
        vocab = Vocab.build(tokens, min_freq=s["min_freq"])
        chars = Vocab.build([list(w) for t in tokens for w in t]) if char_embed else None
        labels = sorted({g for _, gs in train for g in gs})
        self.enc = Encoder(vocab, labels, chars, char_level)
        self.monitor = ("f1", "max") if self.enc.bio else ("accuracy", "max")
        model = SequenceTagger(TaggerConfig(
            vocab_size=len(vocab), num_tags=len(labels), char_vocab_size=len(chars) if chars else 0,
            char_embed=char_embed, cell=s["cell"], embed=s["embed"], hidden=s["hidden"], layers=s["layers"],
            bidirectional=bool(s["bidirectional"]), dropout=s["dropout"], crf=bool(s["crf"]), seed=s["seed"]))
        super().__init__(model, {**self.enc.to_json(), "data": str(s["data"]), "max_len": s["max_len"]})
        from .classify import init_embeddings

        self.pretrained = init_embeddings(model, vocab, tokens, s)
        self.batch, self.seed = s["batch"], s["seed"]
        cut = [p for t, g in train for p in pieces(t, g, s["max_len"])]
        self.train_ids, self.train_tags, self.train_chars = self.enc.encode([t for t, _ in cut], [g for _, g in cut])
        self.held_out = {"val": val, "test": test}

    def train_batches(self, epoch):
        return bucket_batches([len(x) for x in self.train_ids], self.batch, seed=[self.seed, epoch], shuffle=True)

    def train_step(self, idx, carry, rng):
        chars = None if self.train_chars is None else [self.train_chars[i] for i in idx]
        b = make_batch([self.train_ids[i] for i in idx], [self.train_tags[i] for i in idx], chars)
        loss, grads = self.model.loss_and_grads(b, training=True, rng=rng)
        return loss, grads, None, int(b.lengths.sum())

    def evaluate(self, split_name="val"):
        return score(self.model, self.enc, self.held_out[split_name])

    def final_metrics(self):
        return {**{f"val_{k}": v for k, v in self.evaluate("val").items()}, **self.evaluate("test")}


# ---------------------------------------------------------------------- command line
# Entity F1 sits at exactly 0 for the first few hundred steps on sparse data (WNUT-16: ~5 epochs of
# all-O output), and the plateau schedule would halve the learning rate after each of them: keep it
# constant. Early stopping waits 10 epochs without improvement; on a small training set 10 epochs are
# too few steps to leave F1 = 0 (450 WNUT-16 tweets: stopped after 11 epochs at F1 0), so there it
# is off and the time budget or --epochs ends training (the sweep in docs/recipes.md). The CRF output
# layer is on from 1,000 training sentences (WNUT-16, 1,847: validation F1 0.369 against 0.330 for the
# softmax in the same 90 CPU s) and off below (450 tweets: 0.095 against 0.120). Hidden 64 ranked first
# over WNUT-16 and Turkish UPOS at 450 sentences and in full (ahead of 128 on every seed of the small
# files, level on the full sets).
DEFAULTS = {"data": "peoples_daily", "cell": "lstm", "embed": 100, "hidden": 64, "layers": 1,
            "bidirectional": True, "dropout": 0.3, "batch": 32, "epochs": 10, "lr": 2e-3, "crf": None,
            "pretrained": "none", "freeze_embeddings": False, "char_embed": 25, "min_freq": 2, "max_len": MAX_LEN,
            "lr_schedule": "none", "patience": None, "lr_cooldown": 0.0}
# Defaults that depend on the number of training sentences
SIZED = {"patience": [(1000, 0), (None, 10)], "crf": [(1000, False), (None, True)]}


def build(s):
    """The task for settings ``s``; fills the size-dependent settings the user left unset (see SIZED)."""
    sentences = load_sentences(s["data"], s.get("limit"))
    fill_by_size(s, len(split_sentences(sentences, s["seed"])[0]), SIZED)
    return TagTask(sentences, s)


def predict(run, model, inputs, args=None):
    """One dict per input line: tokens, tags and (BIO models) entities as token spans, end exclusive."""
    enc = Encoder.from_run(run)
    token_lists = [tokenize(text, enc.char_level, enc.vocab) for text in inputs]
    keep = [i for i, t in enumerate(token_lists) if t]
    tagged = tag_all(model, enc, [token_lists[i] for i in keep]) if keep else []
    tags = [[] for _ in inputs]
    for i, t in zip(keep, tagged):
        tags[i] = t
    joiner = "" if enc.char_level else " "
    out = []
    for tokens, ts in zip(token_lists, tags):
        item = {"tokens": tokens, "tags": ts, "unknown": [t for t in tokens if t not in enc.vocab]}
        if enc.bio:
            item["entities"] = [{"text": joiner.join(tokens[a:b]), "type": kind, "start": a, "end": b}
                                for kind, a, b in bio_entities(ts)]
        out.append(item)
    return out


def evaluate(run, model, settings, data=None):
    """Metrics on the held-out test split of the training data, or on all of ``data``."""
    enc = Encoder.from_run(run)
    if data is None:
        sentences = split_sentences(load_sentences(settings.get("data", run.get("data")), settings.get("limit")),
                                    settings.get("seed", 0))[2]
    else:
        sentences = load_sentences(data)
        unknown = sorted({g for _, gs in sentences for g in gs} - set(enc.labels))
        if unknown:
            raise ValueError(f"{data}: tag(s) {unknown[:10]} were never seen in training; the model knows "
                             f"{enc.labels}")
    return score(model, enc, sentences)
