"""classify: many-to-one sequence classification (sentiment), and the order-blind baseline.

Examples are (text, label). Text is tokenized with the mixed tokenizer (CJK into
characters, other scripts into words), split 80/10/10 with a seed, batched by
similar length, and fed to a SequenceClassifier (``--cell rnn|lstm|gru``) or the
one-to-one BagOfVectors (``--cell bag``). ``--cell bag --pretrained doc2vec`` trains gensim
Doc2Vec (``--embed`` dimensions) on the training texts and feeds each text's document vector
(learned for training texts, inferred for every other text) to the same dense layers
(DocVectorClassifier).

Word dropout (``--word-dropout``, default 0.1): in training, each word id becomes <unk> with that
probability. The vocabulary is every training word, so without it <unk> — every word a held-out text
has that training did not — would keep its random initial vector (docs/recipes.md, round 5).
"""
import numpy as np

from ..data.splits import bucket_batches, pad_batch, split
from ..data.tokenize import MixedTokenizer, Vocab
from ..data.doc2vec import doc2vec_arrays, infer_vectors, rebuild_doc2vec, train_doc2vec
from ..models.classifier import (BagConfig, BagOfVectors, ClassifierConfig, DocVectorClassifier, DocVectorConfig,
                                 SequenceClassifier)
from .base import Task

MAX_TOKENS = 200   # longer inputs are truncated (Rotten Tomatoes snippets average ~19 words)


def macro_f1(y_true, y_pred, num_classes):
    """Unweighted mean of per-class F1 (a class absent from both gets no vote)."""
    f1s = []
    for c in range(num_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


class ClassifyTask(Task):
    name = "classify"
    monitor = ("accuracy", "max")
    tiebreak = "loss"
    schedule_monitor = ("loss", "min")

    def __init__(self, examples, settings):
        s = settings
        train, val, test = split(examples, fractions=(0.8, 0.1, 0.1), seed=s["seed"])
        if not train or not val or not test:
            raise ValueError(f"classify needs at least 10 examples to split into train/val/test, got {len(examples)}")
        self.tokenizer = MixedTokenizer(lower=True)
        tokens = [self.encode_tokens(t) for t, _ in train]
        self.vocab = Vocab.build(tokens, min_freq=1)
        self.labels = sorted({lab for _, lab in train})
        if len(self.labels) < 2:
            raise ValueError(f"classify needs at least two labels in the training split, got {self.labels}")
        self.label_id = {lab: i for i, lab in enumerate(self.labels)}
        self.doc_vectors = None
        if s.get("pretrained") == "doc2vec":
            model = self._doc2vec_model(tokens, s)
        elif s["cell"] == "bag":
            model = BagOfVectors(BagConfig(len(self.vocab), len(self.labels), embed=s["embed"], hidden=s["hidden"],
                                           dropout=s["dropout"], seed=s["seed"]))
        else:
            model = SequenceClassifier(ClassifierConfig(
                len(self.vocab), len(self.labels), cell=s["cell"], embed=s["embed"], hidden=s["hidden"],
                layers=s["layers"], bidirectional=bool(s["bidirectional"]), pooling=s["pooling"],
                dropout=s["dropout"], seed=s["seed"]))
        super().__init__(model, {"vocab": self.vocab.to_json(), "labels": self.labels,
                                 "tokenizer": {"lower": True}, "data": str(s["data"])})
        if self.doc_vectors is not None:
            self.extra["doc2vec"] = self.doc2vec_vocab
        self.pretrained = init_embeddings(model, self.vocab, tokens, s) if self.doc_vectors is None else None
        self.batch, self.seed = s["batch"], s["seed"]
        self.word_dropout = float(s.get("word_dropout") or 0.0)     # runs saved before the option had none
        self.epoch = 0
        self.splits = {"train": self._encode(train), "val": self._encode(val), "test": self._encode(test)}
        if self.doc_vectors is not None:      # inputs are document vectors: learned (train) or inferred
            d2v = self.doc_vectors
            self.doc_vectors = {"train": d2v.dv.vectors[:len(train)].astype(np.float32),
                                **{k: infer_vectors(d2v, [self.encode_tokens(t) for t, _ in part], s["seed"])
                                   for k, part in (("val", val), ("test", test))}}

    def _doc2vec_model(self, tokens, s):
        """DocVectorClassifier over Doc2Vec vectors trained on the training texts (kept in self.doc_vectors)."""
        if s["cell"] != "bag":
            raise ValueError("--pretrained doc2vec gives one vector per text, the input of the dense baseline; "
                             "use it with --cell bag")
        self.doc_vectors = train_doc2vec(tokens, s["embed"], s["seed"])
        arrays, words, counts = doc2vec_arrays(self.doc_vectors)
        model = DocVectorClassifier(DocVectorConfig(len(self.labels), vector_size=s["embed"], vocab_size=len(words),
                                                    hidden=s["hidden"], dropout=s["dropout"], seed=s["seed"]))
        model.params["doc2vec.words"][...] = arrays["words"]
        model.params["doc2vec.output"][...] = arrays["output"]
        self.doc2vec_vocab = {"words": words, "counts": counts, "seed": s["seed"]}
        return model

    def encode_tokens(self, text):
        return self.tokenizer.tokenize(text)[:MAX_TOKENS] or ["<empty>"]

    def _encode(self, examples):
        ids = [self.vocab.encode(self.encode_tokens(t)) for t, _ in examples]
        labels = []
        for _, lab in examples:
            if lab not in self.label_id:
                raise ValueError(f"label {lab!r} does not occur in the training split (labels: {self.labels})")
            labels.append(self.label_id[lab])
        return ids, np.array(labels, dtype=np.int64)

    def train_batches(self, epoch):
        self.epoch = epoch                                  # word dropout's draws are per epoch
        ids, _ = self.splits["train"]
        return bucket_batches([len(x) for x in ids], self.batch, seed=[self.seed, epoch], shuffle=True)

    def train_step(self, idx, carry, rng):
        ids, labels = self.splits["train"]
        x, lengths = pad_batch([ids[i] for i in idx])
        if self.doc_vectors is not None:
            x = self.doc_vectors["train"][idx]
        elif self.word_dropout:
            # every vocabulary word is a training word, so <unk> (each unseen word at test time) would otherwise
            # keep its random initial vector; padding stays padding. The draw depends on the batch alone (its
            # first example is in no other batch of the epoch), so every backend, rank and resumed run draws it
            unk = self.vocab.unk_id                         # ids: <pad> 0, <unk> 1, then the words
            draw = np.random.default_rng([self.seed, self.epoch, int(idx[0])]).random(x.shape)
            x = np.where((draw < self.word_dropout) & (x > unk), unk, x)
        loss, grads = self.model.loss_and_grads(x, lengths, labels[idx], training=True, rng=rng)
        return loss, grads, None, int(lengths.sum())

    def evaluate(self, split_name="val"):
        ids, labels = self.splits[split_name]
        if self.doc_vectors is not None:
            ids = self.doc_vectors[split_name]
        return score(self.model, ids, labels, len(self.labels))

    def final_metrics(self):
        return {**{f"val_{k}": v for k, v in self.evaluate("val").items()}, **self.evaluate("test")}


def score(model, ids, labels, num_classes, batch=256):
    probs = predict_proba(model, ids, batch)
    pred = probs.argmax(axis=1)
    nll = -np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12))
    return {"accuracy": float(np.mean(pred == labels)), "macro_f1": macro_f1(labels, pred, num_classes),
            "loss": float(nll), "examples": int(len(labels))}


def predict_proba(model, ids, batch=256):
    if isinstance(model, DocVectorClassifier):          # ids are document vectors (N, D)
        return np.concatenate([model.predict_proba(ids[s:s + batch], None) for s in range(0, len(ids), batch)])
    order = np.argsort([len(x) for x in ids], kind="stable")   # similar lengths together: less padding
    out = np.empty((len(ids), model.config.num_classes))
    for s in range(0, len(ids), batch):
        idx = order[s:s + batch]
        x, lengths = pad_batch([ids[i] for i in idx])
        out[idx] = model.predict_proba(x, lengths)
    return out


def init_embeddings(model, vocab, token_lists, s):
    """Initialise the embedding from pretrained vectors (--pretrained); returns a description."""
    kind = s.get("pretrained") or "none"
    if kind == "none":
        return None
    from ..data.vectors import load_vectors

    vectors = load_vectors(kind, token_lists, dim=model.config.embed, seed=s["seed"])
    emb = model.modules["embedding"]
    if vectors.dim != model.config.embed:
        raise ValueError(f"--pretrained {kind} has {vectors.dim}-dimensional vectors; use --embed {vectors.dim}")
    coverage = emb.load_pretrained(vectors.lookup, vocab.itos)
    if s.get("freeze_embeddings"):
        model.frozen.add("embedding.weight")
    return {"kind": kind, "coverage": coverage}


# ---------------------------------------------------------------------- command line
DEFAULTS = {"data": "rotten_tomatoes", "cell": "lstm", "embed": 100, "hidden": 128, "layers": 1,
            "bidirectional": False, "dropout": 0.3, "word_dropout": 0.1, "batch": 8, "epochs": 10, "lr": 2e-3,
            "pooling": "last",
            "pretrained": "none", "freeze_embeddings": False}


def load_examples(data, limit=None):
    from ..data import DATASETS, load_dataset, read_labeled_csv

    if data in DATASETS:
        examples = load_dataset(data)
        if not (isinstance(examples, list) and examples and isinstance(examples[0], tuple)
                and len(examples[0]) == 2 and isinstance(examples[0][0], str)):
            raise ValueError(f"dataset {data!r} is not a (text, label) dataset; classify needs one")
    else:
        examples = read_labeled_csv(data)
    return examples[:limit] if limit else examples


def build(s):
    return ClassifyTask(load_examples(s["data"], s.get("limit")), s)


def _restore(run):
    tok = MixedTokenizer(**run.get("tokenizer", {}))
    return tok, Vocab.from_json(run["vocab"]), run["labels"]


def _inputs(run, model, vocab, tok, texts):
    """Id lists of the texts, or their inferred Doc2Vec vectors (N, D) for a DocVectorClassifier."""
    tokens = [tok.tokenize(t)[:MAX_TOKENS] or ["<empty>"] for t in texts]
    if not isinstance(model, DocVectorClassifier):
        return [vocab.encode(t) for t in tokens]
    d = run["doc2vec"]
    d2v = rebuild_doc2vec({"words": model.params["doc2vec.words"], "output": model.params["doc2vec.output"]},
                          d["words"], d["counts"], d["seed"])
    return infer_vectors(d2v, tokens, d["seed"])


def predict(run, model, inputs, args=None):
    tok, vocab, labels = _restore(run)
    tokens = [tok.tokenize(t)[:MAX_TOKENS] or ["<empty>"] for t in inputs]
    if not inputs:
        return []
    ids = _inputs(run, model, vocab, tok, inputs)
    probs = predict_proba(model, ids)
    # words the model never saw are read as <unk>: listed, so a prediction resting on them can be judged
    return [{"text": t, "label": labels[int(p.argmax())],
             "probabilities": {lab: round(float(q), 4) for lab, q in zip(labels, p)},
             "unknown": [w for w in ws if w not in vocab and w != "<empty>"]}
            for t, p, ws in zip(inputs, probs, tokens)]


def evaluate(run, model, settings, data=None):
    tok, vocab, labels = _restore(run)
    if data is None:
        examples = split(load_examples(settings.get("data", "rotten_tomatoes"), settings.get("limit")),
                         fractions=(0.8, 0.1, 0.1), seed=settings.get("seed", 0))[2]
    else:
        examples = load_examples(data)
    unknown = sorted({lab for _, lab in examples} - set(labels))
    if unknown:
        raise ValueError(f"{data}: label(s) {unknown} were never seen in training; the model knows {labels}")
    index = {lab: i for i, lab in enumerate(labels)}
    ids = _inputs(run, model, vocab, tok, [t for t, _ in examples])
    y = np.array([index[lab] for _, lab in examples], dtype=np.int64)
    return score(model, ids, y, len(labels))
