"""seq2seq: many-to-many encoder-decoder — grapheme-to-phoneme, translation, or your own TSV pairs.

Data (``--data``):

    cmudict      word -> phonemes (g2p). Source: the word's characters (lowercased); target: phoneme
                 tokens with the stress digits removed (AH0 -> AH), as in the usual CMUdict g2p
                 benchmark (39 phonemes); ``stress: true`` in the settings keeps them.
    bible_en_es  English -> Spanish verses, words and punctuation as tokens (needs the Debian packages
                 named by ``rnnlab data get bible_en_es``).
    a TSV path   ``source<TAB>target`` lines. ``--level`` auto (default) reads each side on its own:
                 characters if most of its lines hold no whitespace, else whitespace-separated tokens
                 (phonemes, pre-tokenized words); ``--level char`` / ``--level word`` force characters /
                 words-and-punctuation on both sides.

Splits are by SOURCE: every target of one source (all pronunciations of a word) lands in the same
split, so no test word is seen in training. cmudict is cut 88/2/10 by word with the seed, close to
the published setup (Yao & Zweig 2015: ~106.8k train incl. a 2.7k dev set, 12k test words); the
rest is cut 90/5/5. Training uses every (source, target) pair of the training sources; pairs
longer than ``max_tokens`` (100) on either side are left out of training, never out of
evaluation. Each side's vocabulary keeps its ``max_vocab`` (8000) most frequent training tokens,
specials included; rarer ones read as ``<unk>``.

Model: ``Seq2Seq`` with teacher forcing: the decoder reads ``<bos> y_1 .. y_n`` and predicts
``y_1 .. y_n <eos>``; the target vocabulary is ``<pad>=0, <unk>=1, <bos>=2, <eos>=3, ...``.
Training batches hold sources of similar length (``bucket_batches``).

Metrics, against all references of a source (the g2p convention):

    g2p-style (cmudict; a TSV with a character-level side)
        wer  fraction of sources whose output equals none of its references
        per  sum of token edit distances to the closest reference / sum of those references'
             lengths (phonemes for g2p, characters for a character-level target; ties: the first)
    translation (bible_en_es; a TSV with token-level sides)
        bleu, chrf   corpus BLEU and chrF from sacrebleu over the detokenized outputs
    both
        loss         teacher-forced cross-entropy per target token (nats)

Settings without a flag (edit them in a run's args.json): ``stress``, ``max_tokens``, ``max_vocab``,
``beam`` and ``length_penalty`` (GNMT's alpha) for ``rnnlab evaluate``.

The trainer keeps the epoch with the lowest ``val_wer`` for g2p-style data (greedy decoding of
the small val split is cheap and it is the number reported) and the lowest ``val_loss`` for
translation (BLEU of a few hundred greedy verses is noisy and slow to get each epoch).
"""
import re
from dataclasses import dataclass

import numpy as np

from ..data.splits import bucket_batches, pad_batch, split
from ..data.tokenize import Vocab, WordTokenizer
from ..models.beam import beam_search
from ..models.seq2seq import Seq2Seq, Seq2SeqConfig
from .base import Task

SPLITS = {"cmudict": (0.88, 0.02, 0.10)}
DEFAULT_SPLIT = (0.9, 0.05, 0.05)
EVAL_BATCH = 256


# ---------------------------------------------------------------------- tokens
def tokenize(text, how, lower=False):
    """text -> tokens: ``char`` every character, ``space`` whitespace-separated, ``word`` words + punctuation."""
    text = text.lower() if lower else text
    if how == "char":
        return list(text)
    if how == "space":
        return text.split()
    if how == "word":
        return WordTokenizer().tokenize(text)
    raise ValueError(f"unknown tokenizer {how!r}; expected char, space or word")


def detokenize(tokens, how):
    """Tokens back to text: characters joined; words joined by spaces, without the space before
    closing punctuation or after opening marks (¿ ¡ ( [), so BLEU sees ordinary text."""
    if how == "char":
        return "".join(tokens)
    text = " ".join(tokens)
    if how == "word":
        text = _SPACE_BEFORE.sub(r"\1", text)
        text = _SPACE_AFTER.sub(r"\1", text)
    return text


_SPACE_BEFORE = re.compile(r" ([.,;:!?)\]»])")
_SPACE_AFTER = re.compile(r"([¿¡(\[«]) ")


@dataclass
class Corpus:
    """How one kind of data is read: each side's tokenizer, source lowercasing, and the metric family."""
    source: str             # char | space | word
    target: str
    lower_source: bool
    metrics: str            # g2p | translation

    def src_tokens(self, text):
        return tokenize(text, self.source, self.lower_source)

    def tgt_tokens(self, text):
        return tokenize(text, self.target)


def guess_side(texts):
    """``char`` when most lines hold no whitespace (a word, a name), else ``space`` (tokens)."""
    spaced = sum(1 for t in texts if len(t.split()) > 1)
    return "space" if spaced * 2 > len(texts) else "char"


def corpus_for(data, pairs, level):
    if level not in ("auto", "char", "word"):
        raise ValueError(f"level must be auto, char or word, got {level!r}")
    forced = {"char": "char", "word": "word"}.get(level)
    if data == "cmudict":
        return Corpus(forced or "char", forced or "space", True, "g2p")
    if data == "bible_en_es":
        return Corpus(forced or "word", forced or "word", False, "translation")
    src = forced or guess_side([s for s, _ in pairs])
    tgt = forced or guess_side([t for _, t in pairs])
    return Corpus(src, tgt, False, "g2p" if "char" in (src, tgt) else "translation")


# ---------------------------------------------------------------------- data
def load_pairs(data, stress=False, limit=None):
    """(source, target) text pairs of a built-in dataset or a TSV file (cmudict: phonemes joined by spaces)."""
    from ..data import DATASETS, load_dataset, read_tsv_pairs

    if data == "cmudict":
        from ..data import load_cmudict

        pairs = [(w, " ".join(p)) for w, p in load_cmudict(alternates=True, stress=stress)]
    elif data in DATASETS:
        if DATASETS[data].task != "seq2seq":
            raise ValueError(f"dataset {data!r} is not a (source, target) dataset; seq2seq takes cmudict, "
                             f"bible_en_es or a TSV file")
        pairs = [tuple(p) for p in load_dataset(data)]
    else:
        pairs = read_tsv_pairs(data)
    pairs = pairs[:limit] if limit else pairs
    if not pairs:
        raise ValueError(f"{data}: no (source, target) pairs")
    return pairs


def group_by_source(pairs, corpus):
    """[(source text, [target texts])], one entry per distinct tokenized source, in first-seen order."""
    groups = {}
    for s, t in pairs:
        key = tuple(corpus.src_tokens(s))
        if not key:
            continue
        entry = groups.setdefault(key, (s, []))
        if t not in entry[1]:
            entry[1].append(t)
    return list(groups.values())


def split_groups(groups, data, seed):
    fractions = SPLITS.get(data, DEFAULT_SPLIT)
    parts = split(groups, fractions=fractions, seed=seed)
    if not all(parts):
        raise ValueError(f"seq2seq needs enough distinct sources to fill train/val/test "
                         f"({'/'.join(f'{f:g}' for f in fractions)}), got {len(groups)}")
    return parts


def teacher_forcing(tgt_ids, bos, eos):
    """Target id lists -> tgt_in (B, T) = <bos> y, tgt_out (B, T) = y <eos>, both padded with 0."""
    tgt_in, _ = pad_batch([[bos] + t for t in tgt_ids])
    tgt_out, lengths = pad_batch([t + [eos] for t in tgt_ids])
    return tgt_in, tgt_out, int(lengths.sum())


# ---------------------------------------------------------------------- metrics
def edit_distance(a, b):
    """Levenshtein distance between two token sequences (unit costs)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rates(hyps, refs):
    """hyps: token lists; refs: lists of token lists -> {"wer", "per"} against the closest reference."""
    wrong = edits = length = 0
    for hyp, rs in zip(hyps, refs):
        d, n = min(((edit_distance(hyp, r), len(r)) for r in rs), key=lambda x: x[0])
        wrong += d > 0
        edits += d
        length += n
    return {"wer": wrong / max(len(hyps), 1), "per": edits / max(length, 1)}


def translation_scores(hyps, refs):
    """hyps: strings; refs: lists of reference strings -> {"bleu", "chrf"} (sacrebleu corpus scores)."""
    try:
        import sacrebleu
    except ImportError:
        raise ValueError("BLEU and chrF need sacrebleu: pip install sacrebleu") from None
    n = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(n)]
    return {"bleu": float(sacrebleu.corpus_bleu(hyps, streams).score),
            "chrf": float(sacrebleu.corpus_chrf(hyps, streams).score)}


# ---------------------------------------------------------------------- decoding
def translate(model, src_ids, bos, eos, max_len, beam=1, length_penalty=0.0):
    """Output id lists (eos dropped) for a list of source id lists: batched greedy, or beam search."""
    out = [None] * len(src_ids)
    order = np.argsort([len(s) for s in src_ids], kind="stable")      # similar lengths: less padding
    for start in range(0, len(order), EVAL_BATCH):
        idx = order[start:start + EVAL_BATCH]
        src, lengths = pad_batch([src_ids[i] for i in idx])
        if beam == 1:
            ids, _ = model.greedy_decode(src, lengths, bos=bos, eos=eos, max_len=max_len)
        else:
            ids = [h[0].tokens for h in beam_search(model, src, lengths, bos=bos, eos=eos, beam=beam,
                                                     max_len=max_len, length_penalty=length_penalty)]
        for i, t in zip(idx, ids):
            out[i] = t[:-1] if t and t[-1] == eos else t
    return out


def mean_loss(model, src_ids, tgt_ids, bos, eos):
    """Teacher-forced cross-entropy per target token (nats) over (source, target) id pairs."""
    total = count = 0.0
    order = np.argsort([len(s) for s in src_ids], kind="stable")
    for start in range(0, len(order), EVAL_BATCH):
        idx = order[start:start + EVAL_BATCH]
        src, lengths = pad_batch([src_ids[i] for i in idx])
        tgt_in, tgt_out, n = teacher_forcing([tgt_ids[i] for i in idx], bos, eos)
        total += float(model.loss(src, lengths, tgt_in, tgt_out)) * n
        count += n
    return total / max(count, 1)


class Codec:
    """Texts <-> ids for one trained model: the corpus reading and both vocabularies."""

    def __init__(self, corpus, src_vocab, tgt_vocab, max_len):
        self.corpus, self.src_vocab, self.tgt_vocab, self.max_len = corpus, src_vocab, tgt_vocab, max_len
        self.bos, self.eos = tgt_vocab.bos_id, tgt_vocab.eos_id

    def src_ids(self, text):
        return self.src_vocab.encode(self.corpus.src_tokens(text))

    def tgt_ids(self, text):
        return self.tgt_vocab.encode(self.corpus.tgt_tokens(text))

    def output_tokens(self, ids):
        return self.tgt_vocab.decode(ids)

    def to_json(self):
        return {"corpus": vars(self.corpus), "src_vocab": self.src_vocab.to_json(),
                "tgt_vocab": self.tgt_vocab.to_json(), "max_len": self.max_len}

    @classmethod
    def from_run(cls, run):
        return cls(Corpus(**run["corpus"]), Vocab.from_json(run["src_vocab"]), Vocab.from_json(run["tgt_vocab"]),
                   run["max_len"])


def score_groups(model, codec, groups, beam=1, length_penalty=0.0):
    """Metrics of ``model`` on [(source, [targets])] (the metric family is the codec's)."""
    src_ids = [codec.src_ids(s) for s, _ in groups]
    pairs = [(i, codec.tgt_ids(t)) for i, (_, ts) in enumerate(groups) for t in ts]
    loss = mean_loss(model, [src_ids[i] for i, _ in pairs], [t for _, t in pairs], codec.bos, codec.eos)
    hyps = [codec.output_tokens(h) for h in translate(model, src_ids, codec.bos, codec.eos, codec.max_len,
                                                        beam, length_penalty)]
    if codec.corpus.metrics == "translation":
        how = codec.corpus.target
        scores = translation_scores([detokenize(h, how) for h in hyps], [ts for _, ts in groups])
    else:
        scores = error_rates(hyps, [[codec.corpus.tgt_tokens(t) for t in ts] for _, ts in groups])
    return {"loss": loss, **scores, "sources": len(groups), "references": len(pairs)}


# ---------------------------------------------------------------------- the task
class Seq2SeqTask(Task):
    name = "seq2seq"
    schedule_monitor = ("val_loss", "min")     # also when the best model follows the WER (g2p)

    def __init__(self, pairs, settings):
        s = settings
        corpus = corpus_for(s["data"], pairs, s["level"])
        groups = group_by_source(pairs, corpus)
        train, val, test = split_groups(groups, s["data"], s["seed"])
        train_pairs = [(src, t) for src, ts in train for t in ts]
        src_tok = [corpus.src_tokens(a) for a, _ in train_pairs]
        tgt_tok = [corpus.tgt_tokens(b) for _, b in train_pairs]
        keep = [i for i in range(len(train_pairs)) if len(src_tok[i]) <= s["max_tokens"]
                and 0 < len(tgt_tok[i]) <= s["max_tokens"]]
        if not keep:
            raise ValueError(f"no training pair has at most max_tokens={s['max_tokens']} tokens on both sides")
        cap = s["max_vocab"]
        src_vocab = Vocab.build([src_tok[i] for i in keep], max_size=cap)
        tgt_vocab = Vocab.build([tgt_tok[i] for i in keep], max_size=cap, bos_eos=True)
        max_len = max(len(tgt_tok[i]) for i in keep) + 10      # decoding limit, eos included
        self.codec = Codec(corpus, src_vocab, tgt_vocab, max_len)
        model = Seq2Seq(Seq2SeqConfig(
            len(src_vocab), len(tgt_vocab), cell=s["cell"], embed=s["embed"], hidden=s["hidden"],
            layers=s["layers"], bidirectional_encoder=bool(s["bidirectional"]), attention=s["attention"],
            dropout=s["dropout"], pad_id=0, seed=s["seed"]))
        super().__init__(model, {**self.codec.to_json(), "data": str(s["data"]),
                                 "length_penalty": float(s["length_penalty"]),
                                 "split_sizes": [len(train), len(val), len(test)]})
        self.monitor = ("val_wer", "min") if corpus.metrics == "g2p" else ("val_loss", "min")
        self.batch, self.seed = s["batch"], s["seed"]
        self.train_src = [src_vocab.encode(src_tok[i]) for i in keep]       # ids, no specials
        self.train_tgt = [tgt_vocab.encode(tgt_tok[i]) for i in keep]
        self.groups = {"train": train, "val": val, "test": test}   # [(source, [targets])]

    def train_batches(self, epoch):
        return bucket_batches([len(x) for x in self.train_src], self.batch, seed=[self.seed, epoch], shuffle=True)

    def train_step(self, idx, carry, rng):
        src, lengths = pad_batch([self.train_src[i] for i in idx])
        tgt_in, tgt_out, n = teacher_forcing([self.train_tgt[i] for i in idx], self.codec.bos, self.codec.eos)
        loss, grads = self.model.loss_and_grads(src, lengths, tgt_in, tgt_out, training=True, rng=rng)
        return loss, grads, None, n

    def evaluate(self, split_name="val"):
        m = score_groups(self.model, self.codec, self.groups[split_name])          # greedy
        return {f"{split_name}_{k}": v for k, v in m.items()}

    def final_metrics(self):
        return {**self.evaluate("val"), **self.evaluate("test")}


# ---------------------------------------------------------------------- command line
# A bidirectional encoder: on 20,000 CMUdict pairs it cut validation WER from 0.541 to 0.477 in the
# same 90 CPU seconds, although each step costs more (docs/recipes.md); --no-bidirectional turns it off.
DEFAULTS = {"data": "cmudict", "level": "auto", "cell": "lstm", "embed": 64, "hidden": 256, "layers": 1,
            "bidirectional": True, "attention": "luong", "dropout": 0.0, "batch": 64, "epochs": 10,
            "lr": 2e-3, "stress": False, "max_tokens": 100, "max_vocab": 8000, "beam": 1,
            "length_penalty": 0.0}


def build(s):
    return Seq2SeqTask(load_pairs(s["data"], s.get("stress", False), s.get("limit")), s)


def predict(run, model, inputs, args=None):
    """One dict per input: {"input", "output", "score"} (+ attention and both token lists with --show-attention).

    The score is the hypothesis' log-probability (divided by GNMT's length penalty when one is set);
    ``--beam 1`` is exactly greedy decoding.
    """
    codec = Codec.from_run(run)
    beam = getattr(args, "beam", 1) or 1
    show = bool(getattr(args, "show_attention", False))
    alpha = float(run.get("length_penalty", 0.0))
    out = []
    for text in inputs:
        ids = codec.src_ids(text)
        if not ids or not text.strip():
            raise ValueError(f"input {text!r} has no tokens to translate")
        hyp = beam_search(model, np.array(ids), bos=codec.bos, eos=codec.eos, beam=beam, max_len=codec.max_len,
                          length_penalty=alpha)[0]
        tokens = hyp.tokens[:-1] if hyp.finished else hyp.tokens
        result = {"input": text, "output": detokenize(codec.output_tokens(tokens), codec.corpus.target),
                  "score": round(float(hyp.score), 4),
                  "unknown": [t for t in codec.corpus.src_tokens(text) if t not in codec.src_vocab]}
        if show:
            result["source_tokens"] = codec.src_vocab.decode(ids, skip_special=False)
            result["target_tokens"] = codec.tgt_vocab.decode(hyp.tokens, skip_special=False)
            result["attention"] = (None if hyp.attention is None
                                   else np.round(hyp.attention.astype(np.float64), 3).tolist())
        out.append(result)
    return out


def evaluate(run, model, settings, data=None):
    """Metrics on the run's held-out test split (rebuilt from its settings), or on all of ``data``.

    Greedy decoding unless the run's settings hold ``beam`` > 1.
    """
    codec = Codec.from_run(run)
    beam = int(settings.get("beam", 1) or 1)
    alpha = float(settings.get("length_penalty", 0.0))
    if data is None:
        train_data = settings.get("data", run.get("data", "cmudict"))
        pairs = load_pairs(train_data, settings.get("stress", False), settings.get("limit"))
        groups = split_groups(group_by_source(pairs, codec.corpus), train_data, settings.get("seed", 0))[2]
        where = "test"
    else:
        groups = group_by_source(load_pairs(data, settings.get("stress", False)), codec.corpus)
        where = "data"
    m = score_groups(model, codec, groups, beam, alpha)
    return {**m, "split": where, "decoding": "greedy" if beam == 1 else f"beam{beam}"}


__all__ = ["Seq2SeqTask", "DEFAULTS", "build", "predict", "evaluate", "edit_distance", "error_rates",
           "translation_scores", "translate", "tokenize", "detokenize"]
