"""A run's data file: stored by absolute path with its size and SHA-256, so a resume on changed data is refused."""
import hashlib
import os

from ..train.checkpoint import CheckpointError


def _is_builtin(data):
    from ..data import DATASETS

    return data in DATASETS


def resolve_data_path(data):
    """A user file or folder as an absolute path (evaluate works from any folder); built-in names unchanged."""
    if data is None or _is_builtin(data) or not os.path.exists(data):
        return data
    return os.path.abspath(data)


def data_fingerprint(data):
    """{"data_size": bytes, "data_sha256": hex} of a user file (of every file, for a folder); {} for built-ins."""
    if data is None or _is_builtin(data) or not os.path.exists(data):
        return {}
    if os.path.isdir(data):
        paths = sorted(os.path.join(d, f) for d, _, files in os.walk(data) for f in files)
    else:
        paths = [data]
    h, size = hashlib.sha256(), 0
    for path in paths:
        h.update(os.path.relpath(path, data).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                size += len(block)
    return {"data_size": size, "data_sha256": h.hexdigest()}


def check_data_unchanged(settings, where):
    """Refuse to resume on a data file whose size or content differs from the one the run started with."""
    if "data_sha256" not in settings:
        return
    data = settings["data"]
    if not os.path.exists(data):
        raise CheckpointError(f"{where}: the run's data {data} no longer exists; resume needs the same data")
    now = data_fingerprint(data)
    if now.get("data_sha256") != settings["data_sha256"]:
        raise CheckpointError(f"{where}: the run's data {data} changed since the run started "
                              f"({settings.get('data_size')} bytes then, {now.get('data_size')} now); resume needs "
                              f"the same data (start a new run to train on the new file)")
