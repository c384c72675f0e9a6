"""music: one-to-many generation of Bach-chorale-like music, as a piano roll or as a melody.

Two modes (``settings["mode"]``):

pianoroll (default)
    Every chorale is a sequence of quarter-note frames, each a multi-hot vector over
    the pitch range of the data set (MIDI lowest..highest of all its chorales, 36..81
    for bach_chorales: 46 pitches). ``PianoRollModel`` predicts each frame from the
    ones before it; the metric is the NLL per frame (nats, summed over pitches) and
    the frame-level accuracy ACC = TP / (TP + FP + FN) of Bay et al. (2009).

melody
    The soprano line on a 16th-note grid, one token per 16th: the MIDI pitch that
    starts there, ``hold`` (the previous note or rest goes on) or ``rest``; the
    sequence opens and closes with ``<s>``. Onsets and ends are rounded to the nearest
    grid point (halves up), so a 32nd note that starts on the grid takes a whole 16th
    and the one after it is dropped (a few dozen notes in the chorales). The model
    is the plain ``LanguageModel``; the metric is the NLL per 16th step.

Chorales are split 80/10/10 by chorale with a fixed seed (``SPLIT_SEED``), so runs
with different ``--seed`` are scored on the same test chorales. A batch is whole
chorales of similar length, right-padded, with ``lengths``.

Data: ``--data bach_chorales`` (built in) or a JSON file: a list of chorales,

    [{"name": "mine1", "frames": [[48, 55, 64, 72], [], ...],
      "soprano": [[72, 1.0], [null, 0.5], ...]}, ...]

frames: the MIDI pitches (0..127) sounding in each quarter-note frame ([] for
silence); soprano (optional): (MIDI pitch or null for a rest, duration in quarter
notes). Without soprano the melody is the highest pitch of each frame.
"""
import json
import math
import os

import numpy as np

from ..data.errors import DataError
from ..data.splits import bucket_batches, split
from ..losses import cross_entropy
from ..models.language_model import LanguageModel, LanguageModelConfig
from ..models.music import PianoRollConfig, PianoRollModel
from ..train.rundir import check_parent_dir
from .base import Task

MODES = ("pianoroll", "melody")
SPLIT_SEED = 0             # the train/val/test split does not move with --seed
STEPS_PER_QUARTER = 4      # melody grid: 16th notes
PRIME_QUARTERS = 8         # --prime CHORALE primes with its first two 4/4 bars
SPECIALS = ["<s>", "rest", "hold"]
BOS, REST, HOLD = 0, 1, 2
IGNORE = -100              # padded melody targets (cross_entropy's ignore_index)
MUSIC_FILES = (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".krn", ".abc")


# ---------------------------------------------------------------------- data
def load_chorales(data, limit=None):
    """A built-in music dataset by name, or a user's JSON file (see the module docstring)."""
    from ..data import DATASETS, load_dataset

    if data in DATASETS:
        chorales = load_dataset(data)
        if not (isinstance(chorales, list) and chorales and isinstance(chorales[0], dict)
                and "frames" in chorales[0]):
            raise ValueError(f"dataset {data!r} is not a music dataset; music needs one (e.g. bach_chorales)")
    else:
        chorales = read_chorales_json(data)
    return chorales[:limit] if limit else chorales


def read_chorales_json(path):
    """Validate a user's JSON list of chorales; DataError naming the file and chorale on any problem."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file (and not a built-in dataset; see `rnnlab data list`)")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a JSON file of chorales ({e})") from None
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{path}: expected a non-empty JSON list of chorales "
                        f'[{{"name": ..., "frames": [[midi, ...], ...]}}, ...]')
    chorales = []
    for i, c in enumerate(raw):
        where = f"{path}: chorale {i}"
        if not isinstance(c, dict) or not isinstance(c.get("frames"), list) or not c["frames"]:
            raise DataError(f"{where}: needs a non-empty list 'frames' of lists of MIDI pitches")
        frames = []
        for k, f in enumerate(c["frames"]):
            if not isinstance(f, list) or not all(_is_midi(p) for p in f):
                raise DataError(f"{where}, frame {k}: expected a list of MIDI pitches 0..127, got {f!r}")
            frames.append(tuple(sorted(set(int(p) for p in f))))
        if "soprano" in c:
            sop = c["soprano"]
            if not isinstance(sop, list) or not all(
                    isinstance(s, list) and len(s) == 2 and (s[0] is None or _is_midi(s[0]))
                    and isinstance(s[1], (int, float)) and s[1] > 0 for s in sop):
                raise DataError(f"{where}: 'soprano' must be a list of [MIDI pitch or null, quarters > 0]")
            soprano = [(None if p is None else int(p), float(d)) for p, d in sop]
        else:
            soprano = [(max(f) if f else None, 1.0) for f in frames]
        chorales.append({"name": str(c.get("name", f"chorale{i}")), "frames": frames, "soprano": soprano})
    return chorales


def _is_midi(p):
    return isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 127


def split_chorales(chorales):
    train, val, test = split(chorales, fractions=(0.8, 0.1, 0.1), seed=SPLIT_SEED)
    if not train or not val or not test:
        raise ValueError(f"music needs at least 10 chorales to split into train/val/test, got {len(chorales)}")
    return train, val, test


def pitch_range(chorales, key="frames"):
    """(lowest, highest) MIDI pitch over every chorale (frames, or the soprano line)."""
    if key == "frames":
        pitches = [p for c in chorales for f in c["frames"] for p in f]
    else:
        pitches = [p for c in chorales for p, _ in c["soprano"] if p is not None]
    if not pitches:
        raise ValueError("the chorales hold no notes")
    return min(pitches), max(pitches)


def to_roll(frames, lowest, pitches, dtype=np.float32, where="chorale"):
    """Frames (tuples of MIDI pitches) -> multi-hot (T, P); ValueError for a pitch outside the range."""
    roll = np.zeros((len(frames), pitches), dtype=dtype)
    for t, f in enumerate(frames):
        for p in f:
            if not lowest <= p < lowest + pitches:
                raise ValueError(f"{where}: pitch {p} (frame {t}) lies outside the model's range "
                                 f"{lowest}..{lowest + pitches - 1}")
            roll[t, p - lowest] = 1.0
    return roll


def from_roll(roll, lowest):
    """Multi-hot (T, P) -> list of tuples of MIDI pitches."""
    return [tuple(int(k) + lowest for k in np.flatnonzero(row)) for row in roll]


def melody_tokens(soprano, steps=STEPS_PER_QUARTER):
    """(pitch or None, quarters) notes -> grid labels: a MIDI pitch at an onset, "rest" or "hold"."""
    out, t = [], 0.0
    for pitch, dur in soprano:
        a, b = math.floor(t * steps + 0.5), math.floor((t + dur) * steps + 0.5)   # nearest, halves up
        t += dur
        if b <= a:
            continue                          # shorter than the grid: dropped
        out.append("rest" if pitch is None else pitch)
        out.extend(["hold"] * (b - a - 1))
    return out


def melody_notes(labels, steps=STEPS_PER_QUARTER):
    """Grid labels -> (pitch or None, quarters) notes; a leading hold counts as a rest."""
    notes = []
    for lab in labels:
        if lab == "hold" and notes:
            notes[-1][1] += 1
        else:
            notes.append([None if lab in ("rest", "hold") else int(lab), 1])
    return [(p, n / steps) for p, n in notes]


class MelodyVocab:
    """<s>, rest, hold, then one token per MIDI pitch lowest..highest."""

    def __init__(self, lowest, highest):
        self.lowest, self.highest = int(lowest), int(highest)
        self.itos = SPECIALS + [str(p) for p in range(self.lowest, self.highest + 1)]

    @classmethod
    def from_itos(cls, itos):
        return cls(int(itos[len(SPECIALS)]), int(itos[-1]))

    def encode(self, labels, where="melody"):
        ids = []
        for lab in labels:
            if lab == "rest":
                ids.append(REST)
            elif lab == "hold":
                ids.append(HOLD)
            elif self.lowest <= lab <= self.highest:
                ids.append(len(SPECIALS) + lab - self.lowest)
            else:
                raise ValueError(f"{where}: melody pitch {lab} lies outside the model's range "
                                 f"{self.lowest}..{self.highest}")
        return ids

    def decode(self, ids):
        return [self.itos[i] for i in ids if i != BOS]

    def __len__(self):
        return len(self.itos)


def pad_rolls(rolls):
    """List of (T_i, P) -> frames (B, T, P) zero-padded, lengths (B,)."""
    lengths = np.array([len(r) for r in rolls], dtype=np.int64)
    out = np.zeros((len(rolls), int(lengths.max()), rolls[0].shape[1]), dtype=rolls[0].dtype)
    for i, r in enumerate(rolls):
        out[i, :len(r)] = r
    return out, lengths


def pad_melodies(seqs):
    """List of [<s>, tok.., <s>] -> inputs (B, T) padded with <s>, targets (B, T) padded with IGNORE."""
    T = max(len(s) for s in seqs) - 1
    x = np.full((len(seqs), T), BOS, dtype=np.int64)
    y = np.full((len(seqs), T), IGNORE, dtype=np.int64)
    for i, s in enumerate(seqs):
        x[i, :len(s) - 1] = s[:-1]
        y[i, :len(s) - 1] = s[1:]
    return x, y


# ---------------------------------------------------------------------- metrics
def _batches_by_length(items, size=64):
    order = np.argsort([len(x) for x in items], kind="stable")
    return [[items[i] for i in order[s:s + size]] for s in range(0, len(order), size)]


def roll_metrics(model, rolls, prefix):
    """NLL per frame and frame-level accuracy over whole chorales."""
    tot = {"nll": 0.0, "frames": 0, "tp": 0, "fp": 0, "fn": 0}
    for group in _batches_by_length(rolls):
        frames, lengths = pad_rolls(group)
        for k, v in model.frame_stats(frames, lengths).items():
            tot[k] += v
    acc = tot["tp"] / max(tot["tp"] + tot["fp"] + tot["fn"], 1)
    return {f"{prefix}_nll": tot["nll"] / tot["frames"], f"{prefix}_acc": acc, f"{prefix}_frames": tot["frames"]}


def melody_metrics(model, seqs, prefix):
    """NLL per 16th step and next-token accuracy over whole melodies (the closing <s> included)."""
    nll, correct, steps = 0.0, 0, 0
    for group in _batches_by_length(seqs):
        x, y = pad_melodies(group)
        logits, _, _ = model.forward(x)
        total, _ = cross_entropy(logits, y, reduction="sum", ignore_index=IGNORE)
        valid = y != IGNORE
        nll += total
        correct += int(np.sum((logits.argmax(-1) == y) & valid))
        steps += int(valid.sum())
    return {f"{prefix}_nll": nll / steps, f"{prefix}_acc": correct / steps, f"{prefix}_steps": steps}


# ---------------------------------------------------------------------- the task
class MusicTask(Task):
    name = "music"
    monitor = ("val_nll", "min")

    def __init__(self, chorales, settings):
        s = settings
        mode = s.get("mode", "pianoroll")
        if mode not in MODES:
            raise ValueError(f"music mode must be one of {MODES}, got {mode!r}")
        if s["batch"] < 1:
            raise ValueError(f"--batch must be >= 1, got {s['batch']}")
        train, val, test = split_chorales(chorales)
        self.mode, self.batch, self.seed = mode, s["batch"], s["seed"]
        extra = {"mode": mode, "data": str(s["data"]), "batch": s["batch"], "split_seed": SPLIT_SEED,
                 "split": [len(train), len(val), len(test)]}
        # the range covers every chorale of the data, so held-out ones (and primes from them) fit
        if mode == "pianoroll":
            lowest, highest = pitch_range(chorales)
            P = highest - lowest + 1
            model = PianoRollModel(PianoRollConfig(P, cell=s["cell"], hidden=s["hidden"], layers=s["layers"],
                                                   dropout=s["dropout"], seed=s["seed"]))
            extra.update(lowest=lowest, pitches=P)
            self.splits = {k: [to_roll(c["frames"], lowest, P, where=c["name"]) for c in part]
                           for k, part in (("train", train), ("val", val), ("test", test))}
        else:
            vocab = MelodyVocab(*pitch_range(chorales, "soprano"))
            model = LanguageModel(LanguageModelConfig(len(vocab), cell=s["cell"], embed=s["embed"],
                                                      hidden=s["hidden"], layers=s["layers"],
                                                      dropout=s["dropout"], seed=s["seed"]))
            extra.update(vocab=vocab.itos, steps_per_quarter=STEPS_PER_QUARTER)
            self.splits = {k: [[BOS] + vocab.encode(melody_tokens(c["soprano"]), c["name"]) + [BOS] for c in part]
                           for k, part in (("train", train), ("val", val), ("test", test))}
        super().__init__(model, extra)

    def train_batches(self, epoch):
        lengths = [len(x) for x in self.splits["train"]]
        return bucket_batches(lengths, self.batch, seed=[self.seed, epoch], shuffle=True)

    def train_step(self, idx, carry, rng):
        items = [self.splits["train"][i] for i in idx]
        if self.mode == "pianoroll":
            frames, lengths = pad_rolls(items)
            loss, grads = self.model.loss_and_grads(frames, lengths, training=True, rng=rng)
            return loss, grads, None, int(lengths.sum())
        x, y = pad_melodies(items)
        loss, grads, _ = self.model.loss_and_grads(x, y, training=True, rng=rng)
        return loss, grads, None, int(np.sum(y != IGNORE))

    def evaluate(self, split_name="val"):
        metrics = roll_metrics if self.mode == "pianoroll" else melody_metrics
        return metrics(self.model, self.splits[split_name], split_name)

    def final_metrics(self):
        return {**self.evaluate("val"), **self.evaluate("test")}


# ---------------------------------------------------------------------- command line
# lr 1e-2 with batches of 8 chorales converges within ~25 epochs on bach_chorales (hidden 46..128)
DEFAULTS = {"data": "bach_chorales", "mode": "pianoroll", "cell": "lstm", "hidden": 128, "layers": 1,
            "embed": 32, "dropout": 0.0, "batch": 8, "epochs": 40, "lr": 1e-2}


def build(s):
    return MusicTask(load_chorales(s["data"], s.get("limit")), s)


def evaluate(run, model, settings, data=None):
    """NLL per frame (per 16th step for a melody model) on the test split, or on all chorales of ``data``."""
    if data is None:
        _, _, chorales = split_chorales(load_chorales(settings.get("data", run["data"]), settings.get("limit")))
        prefix = "test"
    else:
        chorales, prefix = load_chorales(data), "data"
    if run["mode"] == "pianoroll":
        rolls = [to_roll(c["frames"], run["lowest"], run["pitches"], where=f"{c['name']}") for c in chorales]
        out = roll_metrics(model, rolls, prefix)
    else:
        vocab = MelodyVocab.from_itos(run["vocab"])
        seqs = [[BOS] + vocab.encode(melody_tokens(c["soprano"]), c["name"]) + [BOS] for c in chorales]
        out = melody_metrics(model, seqs, prefix)
    out["chorales"] = len(chorales)
    return out


def generate(run, model, args):
    """Write a new piece to --output (MIDI, plus MusicXML next to it); return a short summary."""
    music21 = _music21()
    quarters = 64 if args.length is None else args.length
    if quarters < 1:
        raise ValueError(f"--length must be >= 1 quarter note, got {quarters}")
    if not args.output:
        raise ValueError("music generate needs --output FILE.mid (the MIDI file to write; its MusicXML goes next "
                         "to it)")
    if os.path.splitext(args.output)[1].lower() not in (".mid", ".midi"):
        raise ValueError(f"--output {args.output}: give a .mid file (the MusicXML goes next to it)")
    check_parent_dir(args.output, "--output")
    if run["mode"] == "pianoroll" and (args.top_k is not None or args.top_p is not None):
        raise ValueError(f"--{'top-k' if args.top_k is not None else 'top-p'} does nothing for a pianoroll model "
                         f"(each pitch is sampled on its own); use --temperature")
    prime, prime_desc = resolve_prime(run, args.prime)
    out = args.output
    if run["mode"] == "pianoroll":
        lowest, P = run["lowest"], run["pitches"]
        kept = [tuple(p for p in f if lowest <= p < lowest + P) for f in prime["frames"]]
        dropped = sum(len(f) for f in prime["frames"]) - sum(len(f) for f in kept)
        roll = model.sample(quarters, to_roll(kept, lowest, P) if kept else None,
                            temperature=args.temperature, seed=args.seed)
        frames = kept + from_roll(roll, lowest)
        score = roll_score(music21, frames)
        notes = [p for f in frames for p in f]
        body = (f"{len(frames)} quarter-note frames ({len(kept)} primed + {quarters} generated), "
                f"{len(notes) / max(len(frames), 1):.1f} notes per frame")
    else:
        vocab = MelodyVocab.from_itos(run["vocab"])
        labels = melody_tokens(prime["soprano"])
        kept = [lab if lab in ("rest", "hold") or vocab.lowest <= lab <= vocab.highest else "rest"
                for lab in labels]
        dropped = sum(1 for a, b in zip(labels, kept) if a != b)
        ids = model.sample([BOS] + vocab.encode(kept), quarters * STEPS_PER_QUARTER,
                           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
        if BOS in ids:
            ids = ids[:ids.index(BOS)]          # the model closed the melody
        new = vocab.decode(ids)
        notes_ = melody_notes(kept + new)
        score = melody_score(music21, notes_)
        notes = [p for p, _ in notes_ if p is not None]
        body = (f"{len(notes_)} notes and rests over {(len(kept) + len(new)) / STEPS_PER_QUARTER:g} quarters "
                f"({len(kept) / STEPS_PER_QUARTER:g} primed)")
    paths = write_score(score, out)
    span = f", pitches {_name(music21, min(notes))}..{_name(music21, max(notes))}" if notes else ", silent"
    lines = [f"wrote {' and '.join(paths)}", f"{run['mode']}: {body}{span}; primed with {prime_desc}"]
    if dropped:
        lines.append(f"note: {dropped} priming note(s) outside the model's range were left out")
    return "\n".join(lines)


# ---------------------------------------------------------------------- priming, reading and writing scores
def resolve_prime(run, prime):
    """--prime -> ({"frames", "soprano"} of at most PRIME_QUARTERS quarters, description).

    A path to a MIDI/MusicXML file, an index into the held-out test split, or a chorale name.
    """
    if not prime:
        return {"frames": [], "soprano": []}, "nothing"
    if os.path.exists(prime) or prime.lower().endswith(MUSIC_FILES):
        piece, desc = read_score(prime), f"the opening of {prime}"
    else:
        chorales = load_chorales(run["data"])
        _, _, test = split_chorales(chorales)
        if prime.isdigit():
            if int(prime) >= len(test):
                raise ValueError(f"--prime {prime}: the test split has {len(test)} chorales (0..{len(test) - 1})")
            piece = test[int(prime)]
            desc = f"the opening of {piece['name']} (held-out test chorale {prime})"
        else:
            piece = next((c for c in chorales if c["name"] == prime), None)
            if piece is None:
                raise ValueError(f"--prime {prime!r}: no such chorale or file; held-out test chorales: "
                                 f"{', '.join(c['name'] for c in test[:8])}, ... (or an index 0..{len(test) - 1})")
            held_out = any(c["name"] == prime for c in test)
            desc = f"the opening of {prime}" + (" (held-out test chorale)" if held_out else " (not held out)")
    return {"frames": piece["frames"][:PRIME_QUARTERS], "soprano": _clip_line(piece["soprano"], PRIME_QUARTERS)}, desc


def _clip_line(line, quarters):
    out, t = [], 0.0
    for p, d in line:
        if t >= quarters:
            break
        out.append((p, min(d, quarters - t)))
        t += d
    return out


def read_score(path):
    """A MIDI or MusicXML file -> {"frames", "soprano"}; DataError naming the file if it cannot be read."""
    from ..data.music import pianoroll, score_notes, soprano_line, vocal_parts

    music21 = _music21()
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        # parsed without music21's cache: it stores and reloads pickles in a shared temp folder
        converter = music21.converter.Converter()
        converter.parseFileNoPickle(path)
        score = converter.stream
        parts = vocal_parts(score) if getattr(score, "parts", None) else [score]
        frames, soprano = pianoroll(score_notes(parts)), soprano_line(parts[0])
    except Exception as e:  # noqa: BLE001 - music21 raises many kinds of errors for a bad file
        msg = " ".join(str(e).split())[:200]
        raise DataError(f"{path}: cannot read it as MIDI or MusicXML ({type(e).__name__}: {msg})") from None
    if not any(frames):
        raise DataError(f"{path}: holds no notes")
    return {"frames": frames, "soprano": soprano}


def _music21():
    try:
        import music21
    except ImportError:
        raise ValueError("reading and writing MIDI/MusicXML needs music21: pip install music21==10.5.1") from None
    return music21


def _name(music21, midi):
    return music21.pitch.Pitch(midi=midi).nameWithOctave


def roll_score(music21, frames):
    """Quarter-note frames -> a two-staff score (pitches >= middle C on top), one chord or rest per frame."""
    score = music21.stream.Score()
    for name, keep in (("Upper", lambda p: p >= 60), ("Lower", lambda p: p < 60)):
        part = music21.stream.Part()
        part.partName = name
        part.append(music21.clef.TrebleClef() if name == "Upper" else music21.clef.BassClef())
        for f in frames:
            ps = [p for p in f if keep(p)]
            el = music21.chord.Chord(ps) if ps else music21.note.Rest()
            el.quarterLength = 1.0
            part.append(el)
        score.insert(0, part)
    return score


def melody_score(music21, notes):
    part = music21.stream.Part()
    part.partName = "Soprano"
    for p, q in notes:
        el = music21.note.Rest() if p is None else music21.note.Note(p)
        el.quarterLength = q
        part.append(el)
    score = music21.stream.Score()
    score.insert(0, part)
    return score


def write_score(score, path):
    """Write MIDI to ``path`` and MusicXML next to it (same name, .musicxml); returns both paths."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    xml = os.path.splitext(path)[0] + ".musicxml"
    score.write("midi", fp=path)
    score.write("musicxml", fp=xml)
    return [path, xml]
