"""Checkpoints: safetensors for arrays, JSON for everything else; atomic; never pickle.

Two kinds of file live in a run directory OUT:

- ``model.safetensors`` + ``config.json``: the best model so far and how to rebuild
  it (model class, config dataclass, vocabulary, labels). ``generate``, ``predict``
  and ``evaluate`` load these.
- ``resume.safetensors``: one file holding the latest weights, the optimizer's
  arrays, the carried recurrent state and, in its metadata, the trainer's counters,
  RNG states and schedule. One file, replaced atomically, so a run killed at any
  moment resumes from a consistent snapshot.
"""
import errno
import glob
import hashlib
import json
import os
import tempfile

import numpy as np

TMP_PREFIX = ".tmp-"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt or for another model."""


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    The file gets the permissions the umask allows (not mkstemp's 0600). Any OS
    failure (full disk, read-only folder) leaves the earlier ``path`` untouched, no
    temp file behind, and raises an OSError that names ``path``.
    """
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=TMP_PREFIX, suffix=os.path.basename(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        _discard(tmp)
        raise OSError(e.errno or errno.EIO, e.strerror or str(e), path) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp):
    if tmp is not None and os.path.exists(tmp):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_temp_files(folder):
    """Delete temp files a killed save left in ``folder``; returns their names."""
    left = sorted(glob.glob(os.path.join(glob.escape(folder), TMP_PREFIX + "*")))
    for path in left:
        _discard(path)
    return [os.path.basename(p) for p in left]


def append_line(path, line):
    """Append one line of text to ``path``; an OS failure raises an OSError that names ``path``."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as e:
        raise OSError(e.errno or errno.EIO, e.strerror or str(e), path) from None


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def save_arrays(path, arrays, metadata=None):
    """Arrays (name -> ndarray) and a JSON-able metadata dict into one safetensors file, atomically."""
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {"rnnlab": json.dumps(metadata or {}, sort_keys=True), "sha256": tensors_sha256(arrays)}
    atomic_write_bytes(path, save(arrays, metadata=meta))


def tensors_sha256(arrays):
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_arrays(path):
    """(arrays, metadata) from a file written by ``save_arrays``; CheckpointError when unreadable."""
    from safetensors.numpy import load

    if not os.path.exists(path):
        raise CheckpointError(f"{path}: checkpoint file not found")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        arrays = load(data)
        header = _read_header(data)
        meta = json.loads(header.get("rnnlab", "{}"))
    except Exception as e:  # noqa: BLE001 - any parse failure means a corrupt file
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({_one_line(e)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: corrupt metadata (expected a JSON object)")
    # files saved before checksums were stored have none; they load unchecked
    if "sha256" in header and header["sha256"] != tensors_sha256(arrays):
        raise CheckpointError(f"{path}: checksum mismatch: the weights are corrupted (the file was changed "
                              f"after it was saved)")
    return arrays, meta


def _read_header(data):
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    return header.get("__metadata__") or {}


def read_json(path, what="file"):
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: {what} not found")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt {what} ({_one_line(e)})") from None


def _one_line(e):
    return " ".join(str(e).split())[:200]


def check_weights(path, model, arrays):
    """Every parameter present with the right shape, no extras; else CheckpointError naming the key."""
    expected = model.param_shapes()
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    if missing or extra:
        raise CheckpointError(f"{path}: weights do not match {type(model).__name__}: "
                              f"missing {missing[:5]}, unexpected {extra[:5]}")
    for k, shape in expected.items():
        if tuple(arrays[k].shape) != tuple(shape):
            raise CheckpointError(f"{path}: {k} has shape {tuple(arrays[k].shape)}, expected {tuple(shape)}")
