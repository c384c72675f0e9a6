"""speech: many-to-many with CTC, acoustic frames -> a transcript (by default spoken digits).

Data (``--data``):
    spoken_digits     isolated words: the 3,000 Free Spoken Digit Dataset recordings (13 MFCCs per
                      frame), each transcribed as its digit; split 80/10/10 by recording with ``--seed``
    connected_digits  connected digits: utterances of 2-7 of those recordings end to end (synthetic
                      joins), transcribed "3 9 1". The recordings are split 80/10/10 first; every
                      epoch draws fresh training utterances from the training recordings, and the
                      fixed validation and test utterances use only their own split's recordings
    DIR               your own: DIR/transcripts.tsv (``file<TAB>transcript``) with .wav/.flac files
                      (``--features mfcc`` (13) or ``logmel`` (40) per 10 ms frame; cached in
                      OUT/features.npz) or .npy arrays (frames x features); split 80/10/10

Targets are characters (``--level char``, the default for a folder) or whitespace-separated
words (``--level word``, the default for the digit sets). The output labels are the blank
(index 0) and every token of the transcripts. A transcript must fit its audio: n tokens
(plus their repeated neighbours) need n output frames, ceil(frames / ``--subsample``).

Model: ``SpeechRecognizer`` (feature normalisation from the training frames, ``--subsample``
frame stacking, bidirectional recurrent layers, per-frame labels) trained with CTC.

``--lexicon FILE`` (words separated by whitespace or newlines) is kept with the model: beam
search (``--beam K`` > 1) then writes only those words (greedy decoding is unconstrained).

Metrics on held-out utterances, decoded greedily and with prefix beam search
(``eval_beam``, default 4, in run summaries and ``rnnlab evaluate``): word error rate and
character error rate (jiwer), exact-transcript accuracy (for isolated words: digit accuracy),
and the CTC loss per target token.
"""
import os

import numpy as np

from ..data.errors import DataError
from ..data.speech import (AUDIO_SUFFIXES, FEATURES, connect_digits, load_spoken_digits, read_features,
                           read_speech_folder)
from ..data.splits import bucket_batches, split
from ..ctc import min_frames
from ..models.ctc_decode import Lexicon, greedy_decode, prefix_beam_search
from ..models.speech import SpeechConfig, SpeechRecognizer
from .base import Task

BUILTIN = ("spoken_digits", "connected_digits")


class Utterances:
    """Frames [(T, F)], transcripts, where each came from; for connected digits, the recordings to draw from."""

    def __init__(self, frames, texts, where, recordings=None):
        self.frames, self.texts, self.where, self.recordings = frames, texts, where, recordings

    def take(self, idx):
        return Utterances([self.frames[i] for i in idx], [self.texts[i] for i in idx], [self.where[i] for i in idx])


def load_splits(data, seed, features="mfcc", limit=None, cache=None):
    """{"train", "val", "test"}: Utterances, and the feature kind ('given' for precomputed features)."""
    if data in BUILTIN:
        recs = load_spoken_digits()[:limit] if limit else load_spoken_digits()
        where = [f"spoken_digits[{i}]" for i in range(len(recs))]
        parts = split(list(range(len(recs))), (0.8, 0.1, 0.1), seed=seed)
        if data == "spoken_digits":
            u = Utterances([r[0] for r in recs], [r[1] for r in recs], where)
            return {k: u.take(p) for k, p in zip(("train", "val", "test"), parts)}, "given"
        out = {}
        for i, (name, p) in enumerate(zip(("train", "val", "test"), parts)):
            pool = [recs[j] for j in p]
            utts = connect_digits(pool, len(pool), [seed, 10 + i])
            out[name] = Utterances([f for f, _ in utts], [t for _, t in utts],
                                   [f"connected_digits:{name}[{j}]" for j in range(len(utts))], recordings=pool)
        return out, "given"
    if not (isinstance(data, str) and os.path.exists(data)):
        raise DataError(f"{data}: no such dataset or folder; --data takes {' or '.join(BUILTIN)} or a folder "
                        "with transcripts.tsv (lines 'file<TAB>transcript') and .wav/.flac/.npy files")
    names, frames, texts, where = read_speech_folder(data, features, cache)
    kind = "given" if all(n.lower().endswith(".npy") for n in names) else features
    if kind != "given" and any(n.lower().endswith(".npy") for n in names):
        i = next(i for i, n in enumerate(names) if n.lower().endswith(".npy"))
        raise DataError(f"{where[i]}: {names[i]} is a .npy array among audio files; use one kind per folder")
    u = Utterances(frames, texts, where)
    if limit:
        u = u.take(range(min(limit, len(frames))))
    parts = split(list(range(len(u.frames))), (0.8, 0.1, 0.1), seed=seed)
    if not all(parts):
        raise DataError(f"{data}: needs at least 10 utterances to split into train/val/test, got {len(u.frames)}")
    return {k: u.take(p) for k, p in zip(("train", "val", "test"), parts)}, kind


def tokenize(text, level):
    return text.split() if level == "word" else list(text)


def detokenize(tokens, level):
    return " ".join(tokens) if level == "word" else "".join(tokens)


def encode(utts, labels, level, subsample):
    """Label id lists of the transcripts; DataError naming the utterance for an unknown token or one too long."""
    index = {t: i for i, t in enumerate(labels)}
    ids = []
    for text, frames, where in zip(utts.texts, utts.frames, utts.where):
        toks = tokenize(text, level)
        unknown = [t for t in toks if t not in index]
        if unknown:
            raise DataError(f"{where}: {unknown[0]!r} never occurs in the training transcripts "
                            f"(the model's labels: {''.join(labels[1:]) if level == 'char' else ' '.join(labels[1:])})")
        seq = [index[t] for t in toks]
        need = int(min_frames(np.array([seq]), np.array([len(seq)]))[0])
        have = -(-len(frames) // subsample)
        if need > have:
            raise DataError(f"{where}: the transcript ({len(seq)} labels) needs at least {need} output frames, the "
                            f"input gives {have} ({len(frames)} frames / subsample {subsample})")
        ids.append(seq)
    return ids


def pad_frames(frames):
    """[(T_i, F)] -> (B, T, F) float32 zero-padded, lengths (B,)."""
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    x = np.zeros((len(frames), int(lengths.max()), frames[0].shape[1]), dtype=np.float32)
    for i, f in enumerate(frames):
        x[i, :len(f)] = f
    return x, lengths


# ---------------------------------------------------------------------- the task
class SpeechTask(Task):
    name = "speech"
    monitor = ("loss", "min")

    def __init__(self, splits, kind, s):
        train = splits["train"]
        level = s["level"] if s["level"] != "auto" else ("word" if s["data"] in BUILTIN else "char")
        labels = ["<blank>"] + sorted({t for u in splits.values() for x in u.texts for t in tokenize(x, level)})
        F = train.frames[0].shape[1]
        model = SpeechRecognizer(SpeechConfig(
            F, len(labels), cell=s["cell"], hidden=s["hidden"], layers=s["layers"],
            bidirectional=bool(s["bidirectional"]), subsample=s["subsample"], dropout=s["dropout"], seed=s["seed"]))
        pool = train.frames if train.recordings is None else [r[0] for r in train.recordings]
        stacked = np.concatenate(pool)                                  # every training frame, (N, F)
        model.set_normalization(stacked.mean(axis=0), np.maximum(stacked.std(axis=0), 1e-6))
        lexicon = read_lexicon(s["lexicon"]) if s.get("lexicon") else None
        super().__init__(model, {"labels": labels, "level": level, "features": kind, "data": str(s["data"]),
                                 "seed": s["seed"], "limit": s.get("limit"), "lexicon": lexicon,
                                 "split_sizes": [len(u.frames) for u in splits.values()]})
        self.labels, self.level, self.splits = labels, level, splits
        self.batch, self.seed, self.eval_beam = s["batch"], s["seed"], s["eval_beam"]
        self.ids = {k: encode(u, labels, level, s["subsample"]) for k, u in splits.items()}
        self.epoch_data = None

    def _train_data(self, epoch):
        """(Utterances, ids) trained on in this epoch: fresh connected-digit draws, else the training split."""
        train = self.splits["train"]
        if train.recordings is None:
            return train, self.ids["train"]
        utts = connect_digits(train.recordings, len(train.recordings), [self.seed, 100 + epoch])
        u = Utterances([f for f, _ in utts], [t for _, t in utts], [f"connected_digits:train[{i}]" for i in range(len(utts))])
        return u, encode(u, self.labels, self.level, self.model.config.subsample)

    def train_batches(self, epoch):
        self.epoch_data = self._train_data(epoch)
        lengths = [len(f) for f in self.epoch_data[0].frames]
        return bucket_batches(lengths, self.batch, seed=[self.seed, epoch], shuffle=True)

    def train_step(self, idx, carry, rng):
        utts, ids = self.epoch_data
        x, lengths = pad_frames([utts.frames[i] for i in idx])
        targets = [ids[i] for i in idx]
        loss, grads = self.model.loss_and_grads(x, lengths, targets, training=True, rng=rng)
        return loss, grads, None, int(sum(len(t) for t in targets))

    def evaluate(self, split_name="val", beams=(1,)):
        u = self.splits[split_name]
        return score(self.model, self.extra, u.frames, u.texts, self.ids[split_name], beams)

    def final_metrics(self):
        test = self.evaluate("test", beams=(1, self.eval_beam) if self.eval_beam > 1 else (1,))
        return {**{f"val_{k}": v for k, v in self.evaluate("val").items()}, **test}


def read_lexicon(path):
    """Sorted distinct words of a word-list file (whitespace-separated); DataError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            words = sorted(set(f.read().split()))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise DataError(f"{path}: cannot read the word list ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if not words:
        raise DataError(f"{path}: the word list is empty")
    return words


def transcribe(model, run, frames, beam=1, batch=64):
    """For each utterance: [(transcript, log probability)] n-best (one entry, score None, when greedy).

    run: the run's labels, level and lexicon (None: unconstrained).
    """
    labels, level = run["labels"], run["level"]
    lexicon = Lexicon(run["lexicon"], labels, level) if run.get("lexicon") else None
    order = np.argsort([len(f) for f in frames], kind="stable")
    out = [None] * len(frames)
    for s in range(0, len(frames), batch):
        idx = order[s:s + batch]
        logp, lengths = model.log_probs(*pad_frames([frames[i] for i in idx]))
        for j, i in enumerate(idx):
            lp = logp[j, :lengths[j]]
            if beam == 1:
                out[i] = [(greedy_decode(lp, model.config.blank), None)]
            else:
                out[i] = prefix_beam_search(lp, beam, model.config.blank, lexicon)
            out[i] = [(detokenize([labels[k] for k in seq], level), sc) for seq, sc in out[i]]
    return out


def error_rates(refs, hyps):
    """{"wer", "cer", "accuracy"} of hypotheses against references (jiwer for the error rates)."""
    try:
        import jiwer
    except ImportError:
        raise ValueError("speech metrics need jiwer; install it with: pip install jiwer") from None
    # jiwer rejects an empty hypothesis list entry only when the reference is empty too; ours never are
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps)),
            "accuracy": float(np.mean([h == r for h, r in zip(hyps, refs)]))}


def score(model, run, frames, texts, ids, beams=(1,), batch=64):
    """WER, CER, accuracy for each beam (suffix _beamK for K > 1), the CTC loss per token, the count."""
    level = run["level"]
    refs = [detokenize(tokenize(t, level), level) for t in texts]
    out = {}
    for beam in beams:
        hyps = [n[0][0] for n in transcribe(model, run, frames, beam, batch)]
        sfx = "" if beam == 1 else f"_beam{beam}"
        out.update({f"{k}{sfx}": v for k, v in error_rates(refs, hyps).items()})
    total = 0.0
    for s in range(0, len(frames), batch):
        x, lengths = pad_frames(frames[s:s + batch])
        total += model.loss(x, lengths, ids[s:s + batch]) * len(lengths)
    return {**out, "loss": total / len(frames), "utterances": len(frames)}


# ---------------------------------------------------------------------- command line
DEFAULTS = {"data": "spoken_digits", "level": "auto", "cell": "lstm", "hidden": 128, "layers": 2,
            "bidirectional": True, "subsample": 1, "dropout": 0.1, "batch": 32, "epochs": 30, "lr": 2e-3,
            "patience": 6, "features": "mfcc", "eval_beam": 4, "lexicon": None, "out": None}


def build(s):
    s = {**DEFAULTS, **s}
    if s["features"] not in FEATURES:
        raise ValueError(f"--features must be one of {sorted(FEATURES)}, got {s['features']!r}")
    if s["level"] not in ("auto", "char", "word"):
        raise ValueError(f"--level must be char, word or auto for speech, got {s['level']!r}")
    if s["subsample"] < 1:
        raise ValueError(f"--subsample must be >= 1, got {s['subsample']}")
    cache = os.path.join(s["out"] or os.path.join("runs", "speech"), "features.npz")
    splits, kind = load_splits(s["data"], s["seed"], s["features"], s.get("limit"),
                               cache if s["data"] not in BUILTIN else None)
    return SpeechTask(splits, kind, s)


def _input_features(run, model, path):
    kind = run["features"]
    is_audio = os.path.splitext(path)[1].lower() in AUDIO_SUFFIXES
    if kind == "given" and is_audio:
        raise DataError(f"{path}: this model was trained on precomputed features "
                        f"({model.config.num_features} per frame); give .npy files (frames x features)")
    f = read_features(path, "mfcc" if kind == "given" else kind)
    if f.shape[1] != model.config.num_features:
        raise DataError(f"{path}: {f.shape[1]} features per frame, the model takes {model.config.num_features}")
    return f


def predict(run, model, inputs, args=None):
    """{"input", "transcript"} per file (+ "score" and the n-best "nbest" [{transcript, score}] with --beam K > 1)."""
    beam = int(getattr(args, "beam", None) or 1)
    if beam < 1:
        raise ValueError(f"--beam must be >= 1, got {beam}")
    if not inputs:
        return []
    frames = [_input_features(run, model, p) for p in inputs]
    results = []
    for path, nbest in zip(inputs, transcribe(model, run, frames, beam)):
        r = {"input": path, "transcript": nbest[0][0]}
        if beam > 1:
            r["score"] = round(nbest[0][1], 4)
            r["nbest"] = [{"transcript": t, "score": round(sc, 4)} for t, sc in nbest]
        results.append(r)
    return results


def evaluate(run, model, settings, data=None):
    """Metrics on the run's held-out test utterances, or on every utterance of the folder ``data``."""
    s = {**DEFAULTS, **settings}
    beam = int(s.get("beam") or s["eval_beam"])
    kind = run["features"]
    if data is None or data in BUILTIN:
        splits, _ = load_splits(data or run["data"], run["seed"], s["features"], run.get("limit") if data is None else None)
        u = splits["test"]
        where = "test"
    else:
        names, frames, texts, wh = read_speech_folder(data, "mfcc" if kind == "given" else kind)
        for n, w in zip(names, wh):
            if kind == "given" and not n.lower().endswith(".npy"):
                raise DataError(f"{w}: {n}: this model was trained on precomputed features; give .npy files")
        u, where = Utterances(frames, texts, wh), "data"
        if u.frames[0].shape[1] != model.config.num_features:
            raise DataError(f"{data}: {u.frames[0].shape[1]} features per frame, the model takes "
                            f"{model.config.num_features}")
    ids = encode(u, run["labels"], run["level"], model.config.subsample)
    m = score(model, run, u.frames, u.texts, ids, (1, beam) if beam > 1 else (1,))
    return {**m, "split": where}


__all__ = ["SpeechTask", "DEFAULTS", "build", "predict", "evaluate", "transcribe", "error_rates", "score"]
