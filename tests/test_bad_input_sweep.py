"""A sweep of bad input across every command: each must end in one line `rnnlab: error: ...` and exit code 2.

Every case is classified as a clean error, a traceback (or internal error), or a silent acceptance; the
trained runs the sweep uses are checked byte for byte afterwards (nothing lost).
"""
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys

import pytest

from conftest import run_cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n") * 20
TINY = ["--hidden", "8", "--embed", "4", "--batch", "2", "--quiet", "--epochs", "1"]


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _main(argv):
    from rnnlab.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        rc = main(argv)
    assert rc == 0, err.getvalue()


def _digest(folder):
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            h.update(name.encode() + open(p, "rb").read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """Data files and two tiny trained runs (kept read-only by the sweep: their digests are checked at the end)."""
    d = tmp_path_factory.mktemp("sweep")
    f = {"dir": d}
    f["text"] = _write(d / "corpus.txt", TEXT)
    rows = ["text,label"] + [f"{'great fun' if i % 2 else 'dull mess'} movie {i},{'pos' if i % 2 else 'neg'}"
                             for i in range(40)]
    f["csv"] = _write(d / "reviews.csv", "\n".join(rows) + "\n")
    f["lm"], f["clf"] = str(d / "lm"), str(d / "clf")
    _main(["train", "charlm", "--data", f["text"], "--layers", "1", "--bptt", "8", "--out", f["lm"]] + TINY)
    _main(["train", "classify", "--data", f["csv"], "--out", f["clf"]] + TINY)
    f["conll"] = _write(d / "ner.conll", "".join(f"{name} B-PER\nflew O\nto O\n{city} B-LOC\n.\tO\n\n"
                                                 for name in ("Bob", "Ann", "Tom", "Eve")
                                                 for city in ("Oslo", "Rome", "Paris", "Lima")))
    f["tsv"] = _write(d / "pairs.tsv", "".join(f"{a}{b}\t{b}{a}\n" for a in ("abc", "hello", "world", "cat")
                                             for b in ("dog", "tree", "moon", "sun")))
    f["chorales"] = _write(d / "chorales.json", json.dumps(
        [{"name": f"c{i}", "frames": [[48 + (i + j) % 5, 60, 67] for j in range(10)]} for i in range(12)]))
    f["images"] = _caption_folder(d / "images")
    f["tag"], f["s2s"], f["music"], f["cap"] = str(d / "tag"), str(d / "s2s"), str(d / "music"), str(d / "cap")
    _main(["train", "tag", "--data", f["conll"], "--out", f["tag"]] + TINY)
    _main(["train", "seq2seq", "--data", f["tsv"], "--out", f["s2s"]] + TINY)
    _main(["train", "music", "--data", f["chorales"], "--out", f["music"]] + TINY)
    _main(["train", "caption", "--data", f["images"], "--out", f["cap"], "--pca", "4"] + TINY)
    f["speech"], f["sp"] = _speech_folder(d / "speech"), str(d / "sp")
    _main(["train", "speech", "--data", f["speech"], "--out", f["sp"]] + SPEECH)
    f["digests"] = {k: _digest(f[k]) for k in RUNS}
    return f


RUNS = ("lm", "clf", "tag", "s2s", "music", "cap", "sp")
SPEECH = ["--hidden", "8", "--layers", "1", "--batch", "8", "--quiet", "--epochs", "1"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _speech_folder(folder, n=20, rows=None):
    """n spelled digits as .npy frames (16-24 of 13 numbers each) and their transcripts.tsv; ``rows``: other lines."""
    import numpy as np

    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        np.save(folder / f"u{i}.npy", rng.standard_normal((16 + i % 9, 13)).astype(np.float32))
        lines.append(f"u{i}.npy\t{DIGITS[i % 10]}\n")
    (folder / "transcripts.tsv").write_text("".join(rows if rows is not None else lines), encoding="utf-8")
    return str(folder)


def speech_data(w, name, first_line=None, n=20, extra=None):
    """A speech folder whose first transcript line is replaced by ``first_line``; ``extra``: {file: bytes}."""
    folder = w["dir"] / name
    shutil.rmtree(folder, ignore_errors=True)
    _speech_folder(folder, n)
    if first_line is not None:
        rows = (folder / "transcripts.tsv").read_text().splitlines(keepends=True)
        (folder / "transcripts.tsv").write_text(first_line + "\n" + "".join(rows[1:]), encoding="utf-8")
    for file, content in (extra or {}).items():
        _write(folder / file, content)
    return str(folder)


def speech_train(w, folder, *flags):
    return ["train", "speech", "--data", folder, "--out", out(w)] + SPEECH + list(flags)


def npy(w, name, array):
    import numpy as np

    path = w["dir"] / name
    np.save(path, array)
    return str(path)


def missing(w, name):
    """A path inside a folder that does not exist."""
    return os.path.join(w["dir"], "no_such_folder", name)


def no_such_cuda():
    """--device naming a CUDA device this machine lacks: cuda without CUDA, else an index past the last GPU."""
    import torch

    return "cuda:99" if torch.cuda.is_available() else "cuda"


def _caption_folder(folder):
    """30 one-colour squares named by their colour."""
    from PIL import Image

    folder.mkdir()
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    lines = []
    for i in range(30):
        name = list(colours)[i % 3]
        Image.new("RGB", (8, 8), colours[name]).save(folder / f"{i}.png")
        lines.append(f"{i}.png\ta {name} square\n")
    (folder / "captions.tsv").write_text("".join(lines))
    return str(folder)


def copy_run(w, name, new):
    dst = os.path.join(w["dir"], new)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(w[name], dst)
    return dst


def edit_json(path, change):
    obj = json.load(open(path))
    obj = change(obj)
    json.dump(obj, open(path, "w"))


def run_dir_with(w, name, new, file, mutate):
    """A copy of a trained run whose ``file`` was changed by ``mutate(path)``."""
    dst = copy_run(w, name, new)
    mutate(os.path.join(dst, file))
    return dst


def flip_last_byte(path):
    data = bytearray(open(path, "rb").read())
    data[-2] ^= 0x10
    open(path, "wb").write(bytes(data))


def truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])


def setkey(key, value):
    def change(obj):
        obj[key] = value
        return obj
    return lambda path: edit_json(path, change)


def delkey(key):
    def change(obj):
        del obj[key]
        return obj
    return lambda path: edit_json(path, change)


def resumable(w, new):
    """A charlm run killed mid-way (resume checkpoint kept)."""
    out = os.path.join(w["dir"], new)
    shutil.rmtree(out, ignore_errors=True)
    _main(["train", "charlm", "--data", w["text"], "--layers", "1", "--bptt", "8", "--out", out, "--keep-resume"]
          + TINY)
    os.unlink(os.path.join(out, "metrics.json"))
    return out


def data_file(w, name, content):
    return _write(w["dir"] / name, content)


def out(w, name="out"):
    p = os.path.join(w["dir"], "fresh", name)
    shutil.rmtree(p, ignore_errors=True)
    return p


def lm_train(w, *flags):
    """A charlm run that would train in a moment: only ``flags`` (the last of a repeated flag counts) are bad."""
    return ["train", "charlm", "--data", w["text"], "--out", out(w), "--layers", "1", "--bptt", "8"] + TINY + list(flags)


CASES = {
    # ------------------------------------------------------------------ flag ranges (train)
    "epochs 0": (lambda w: lm_train(w, "--epochs", "0"), "--epochs"),
    "epochs negative": (lambda w: lm_train(w, "--epochs", "-1"), "--epochs"),
    "epochs fractional": (lambda w: lm_train(w, "--epochs", "1.5"), "--epochs"),
    "epochs word": (lambda w: lm_train(w, "--epochs", "ten"), "--epochs"),
    "batch 0": (lambda w: lm_train(w, "--batch", "0"), "--batch"),
    "bptt 0": (lambda w: lm_train(w, "--bptt", "0"), "--bptt"),
    "lr 0": (lambda w: lm_train(w, "--lr", "0"), "--lr"),
    "lr inf": (lambda w: lm_train(w, "--lr", "inf"), "--lr"),
    "lr nan": (lambda w: lm_train(w, "--lr", "nan"), "--lr"),
    "lr negative": (lambda w: lm_train(w, "--lr", "-0.1"), "--lr"),
    "lr huge": (lambda w: lm_train(w, "--lr", "1e6"), "--lr"),
    "max-time negative": (lambda w: lm_train(w, "--max-time", "-5"), "--max-time"),
    "max-time nan": (lambda w: lm_train(w, "--max-time", "nan"), "--max-time"),
    "max-time 0": (lambda w: lm_train(w, "--max-time", "0"), "--max-time"),
    "max-time inf": (lambda w: lm_train(w, "--max-time", "inf"), "--max-time"),
    "clip negative": (lambda w: lm_train(w, "--clip", "-1"), "--clip"),
    "clip nan": (lambda w: lm_train(w, "--clip", "nan"), "--clip"),
    "save-every negative": (lambda w: lm_train(w, "--save-every", "-1"), "--save-every"),
    "save-every nan": (lambda w: lm_train(w, "--save-every", "nan"), "--save-every"),
    "patience negative": (lambda w: lm_train(w, "--patience", "-2"), "--patience"),
    "limit 0": (lambda w: lm_train(w, "--limit", "0"), "--limit"),
    "limit negative": (lambda w: lm_train(w, "--limit", "-10"), "--limit"),
    "seed negative": (lambda w: lm_train(w, "--seed", "-1"), "--seed"),
    "seed too big": (lambda w: lm_train(w, "--seed", str(2**32)), "--seed"),
    "hidden 0": (lambda w: lm_train(w, "--hidden", "0"), "--hidden"),
    "hidden too big": (lambda w: lm_train(w, "--hidden", "100000"), "--hidden"),
    "memory estimate": (lambda w: lm_train(w, "--hidden", "60000", "--layers", "64", "--embed", "60000"), "GiB"),
    "memory estimate of BPTT": (lambda w: lm_train(w, "--hidden", "4096", "--batch", "100000", "--bptt", "100000"),
                                "GiB"),
    "layers 0": (lambda w: lm_train(w, "--layers", "0"), "--layers"),
    "embed 0": (lambda w: lm_train(w, "--embed", "0"), "--embed"),
    "dropout 1": (lambda w: lm_train(w, "--dropout", "1"), "--dropout"),
    "dropout negative": (lambda w: lm_train(w, "--dropout", "-0.1"), "--dropout"),
    "char-embed negative": (lambda w: ["train", "tag", "--char-embed", "-1"], "--char-embed"),
    "pca negative": (lambda w: ["train", "caption", "--pca", "-1"], "--pca"),
    "threads 0": (lambda w: ["--threads", "0"] + lm_train(w), "--threads"),
    "threads 0 after the command": (lambda w: lm_train(w, "--threads", "0"), "--threads"),
    "threads word": (lambda w: ["--threads", "many", "data", "list"], "--threads"),
    "cell unknown": (lambda w: lm_train(w, "--cell", "foo", "--epochs", "1") + TINY[:2], "foo"),
    "cell bag for charlm": (lambda w: lm_train(w, "--cell", "bag", "--epochs", "1"), "bag"),
    "optimizer unknown": (lambda w: lm_train(w, "--optimizer", "lion"), "--optimizer"),
    "level unknown": (lambda w: lm_train(w, "--level", "byte"), "--level"),
    "unknown flag": (lambda w: lm_train(w, "--foo", "1"), "--foo"),
    "no task": (lambda w: ["train"], "TASK"),
    "unknown task": (lambda w: ["train", "poetry"], "poetry"),
    "flag of another task": (lambda w: lm_train(w, "--pooling", "mean"), "--pooling"),
    "crf for classify": (lambda w: ["train", "classify", "--data", w["csv"], "--crf", "--out", out(w)], "--crf"),
    "cosine without epochs": (lambda w: ["train", "charlm", "--data", w["text"], "--out", out(w), "--max-time", "5",
                                         "--lr-schedule", "cosine"], "cosine"),
    "pretrained unknown": (lambda w: ["train", "classify", "--data", w["csv"], "--pretrained", "bert", "--out",
                                      out(w)] + TINY, "bert"),
    # ------------------------------------------------------------------ data files (train)
    "data missing": (lambda w: ["train", "charlm", "--data", "/nonexistent/x.txt", "--out", out(w)], "x.txt"),
    "data is a folder": (lambda w: ["train", "charlm", "--data", str(w["dir"]), "--out", out(w)], "regular file"),
    "data empty": (lambda w: ["train", "charlm", "--data", data_file(w, "empty.txt", ""), "--out", out(w)], "empty"),
    "data whitespace": (lambda w: ["train", "charlm", "--data", data_file(w, "ws.txt", " \n\t\n"), "--out", out(w)],
                        "whitespace"),
    "data latin-1": (lambda w: ["train", "charlm", "--data", data_file(w, "l1.txt", "caf\xe9 ".encode("latin-1") * 60),
                                "--out", out(w)], "UTF-8"),
    "data too short": (lambda w: ["train", "charlm", "--data", data_file(w, "short.txt", "abc" * 10), "--out", out(w)],
                       "100"),
    "batch too big for text": (lambda w: lm_train(w, "--batch", "500"), "too short"),
    "bptt too long for text": (lambda w: lm_train(w, "--bptt", "5000"), "too short"),
    "csv without label": (lambda w: ["train", "classify", "--data", data_file(w, "nolabel.csv", "text,y\na,b\n"),
                                     "--out", out(w)], "label"),
    "csv one class": (lambda w: ["train", "classify", "--data",
                                 data_file(w, "one.csv", "text,label\n" + "good,pos\n" * 20), "--out", out(w)],
                      "two classes"),
    "csv ragged row": (lambda w: ["train", "classify", "--data", data_file(w, "rag.csv", "a,b,text,label\nx,y\n"),
                                  "--out", out(w)], "rag.csv"),
    "csv empty label": (lambda w: ["train", "classify", "--data", data_file(w, "el.csv", "text,label\nhello,\n"),
                                   "--out", out(w)], "empty"),
    "csv header only": (lambda w: ["train", "classify", "--data", data_file(w, "ho.csv", "text,label\n"),
                                   "--out", out(w)], "no data rows"),
    "csv too few rows": (lambda w: ["train", "classify", "--data",
                                    data_file(w, "few.csv", "text,label\na,x\nb,y\nc,x\n"), "--out", out(w)], "10"),
    "conll ragged": (lambda w: ["train", "tag", "--data", data_file(w, "r.conll", "Bob B-PER\nflew O x\n"),
                                "--out", out(w)], "r.conll:2"),
    "conll one column": (lambda w: ["train", "tag", "--data", data_file(w, "one.conll", "Bob\nflew\n"),
                                    "--out", out(w)], "one.conll:1"),
    "conll only docstart": (lambda w: ["train", "tag", "--data", data_file(w, "ds.conll", "-DOCSTART- O\n\n"),
                                       "--out", out(w)], "no token lines"),
    "tsv without tab": (lambda w: ["train", "seq2seq", "--data", data_file(w, "nt.tsv", "hello hola\n"),
                                   "--out", out(w)], "no tab"),
    "tsv empty target": (lambda w: ["train", "seq2seq", "--data", data_file(w, "et.tsv", "hello\t \n"),
                                    "--out", out(w)], "empty target"),
    "tsv header only": (lambda w: ["train", "seq2seq", "--data", data_file(w, "h.tsv", "source\ttarget\n"),
                                   "--out", out(w)], "no source"),
    "music json not a list": (lambda w: ["train", "music", "--data", data_file(w, "m.json", '{"a": 1}'),
                                         "--out", out(w)], "m.json"),
    "music json broken": (lambda w: ["train", "music", "--data", data_file(w, "mb.json", '[{"name": '),
                                     "--out", out(w)], "mb.json"),
    "music json bad frames": (lambda w: ["train", "music", "--data",
                                         data_file(w, "mf.json", '[{"name": "a", "frames": "x"}]'), "--out", out(w)],
                              "mf.json"),
    "caption folder without captions": (lambda w: ["train", "caption", "--data", str(w["dir"] / "fresh"),
                                                   "--out", out(w)], "captions.tsv"),
    # ------------------------------------------------------------------ output folders
    "out is a file": (lambda w: lm_train(w) + ["--out", w["text"]], "corpus.txt"),
    "out below a file": (lambda w: lm_train(w) + ["--out", w["text"] + "/run"], "corpus.txt"),
    "out holds a run": (lambda w: lm_train(w) + ["--out", w["lm"]], "--overwrite"),
    "out holds a classify run": (lambda w: lm_train(w) + ["--out", w["clf"]], "already holds a run"),
    # ------------------------------------------------------------------ resume
    "resume missing folder": (lambda w: ["train", "--resume", "/nonexistent/run"], "/nonexistent/run"),
    "resume finished run": (lambda w: ["train", "--resume", copy_run(w, "lm", "finished")], "the run finished"),
    "resume with lr": (lambda w: ["train", "--resume", resumable(w, "r1"), "--lr", "0.1"], "--lr"),
    "resume with data": (lambda w: ["train", "--resume", resumable(w, "r2"), "--data", w["text"]], "--data"),
    "resume with overwrite": (lambda w: ["train", "--resume", resumable(w, "r3"), "--overwrite"], "--overwrite"),
    "resume with out": (lambda w: ["train", "--resume", resumable(w, "r4"), "--out", "x"], "--out"),
    "resume other task": (lambda w: ["train", "classify", "--resume", resumable(w, "r5")], "charlm"),
    "resume without args.json": (lambda w: ["train", "--resume",
                                            run_dir_with(w, "lm", "r6", "args.json", os.unlink)], "args.json"),
    "resume args.json corrupt": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r7", "args.json", truncate)],
                                 "args.json"),
    "resume args.json epochs word": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r8", "args.json",
                                                                                  setkey("epochs", "ten"))], "epochs"),
    "resume args.json lr negative": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r9", "args.json",
                                                                                  setkey("lr", -1))], "lr"),
    "resume args.json unknown task": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r10", "args.json",
                                                                                   setkey("task", "poetry"))], "poetry"),
    "resume args.json unknown optimizer": (lambda w: ["train", "--resume", run_dir_with(
        w, "lm", "r18", "args.json", setkey("optimizer", "lion"))], "optimizer"),
    "resume args.json no task": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r11", "args.json",
                                                                              delkey("task"))], "task"),
    "resume args.json a list": (lambda w: ["train", "--resume", run_dir_with(w, "lm", "r12", "args.json",
                                                                             lambda p: open(p, "w").write("[1]"))],
                                "args.json"),
    "resume checkpoint truncated": (lambda w: ["train", "--resume", _mutated_resume(w, "r13", truncate)],
                                    "resume.safetensors"),
    "resume checkpoint flipped": (lambda w: ["train", "--resume", _mutated_resume(w, "r14", flip_last_byte)],
                                  "checksum"),
    "resume metadata without trainer": (lambda w: ["train", "--resume", _resume_meta(w, "r15", "trainer", None)],
                                        "trainer"),
    "resume metadata bad epoch": (lambda w: ["train", "--resume", _resume_meta(w, "r16", "trainer", {"epoch": "x"})],
                                  "epoch"),
    "resume data changed": (lambda w: ["train", "--resume", _changed_data(w, "r17")], "changed"),
    # ------------------------------------------------------------------ generate
    "length 0": (lambda w: ["generate", w["lm"], "--length", "0"], "--length"),
    "length negative": (lambda w: ["generate", w["lm"], "--length", "-5"], "--length"),
    "length huge": (lambda w: ["generate", w["lm"], "--length", "100000000"], "--length"),
    "top-p 0": (lambda w: ["generate", w["lm"], "--top-p", "0"], "--top-p"),
    "top-p above 1": (lambda w: ["generate", w["lm"], "--top-p", "1.5"], "--top-p"),
    "top-p nan": (lambda w: ["generate", w["lm"], "--top-p", "nan"], "--top-p"),
    "top-k 0": (lambda w: ["generate", w["lm"], "--top-k", "0"], "--top-k"),
    "temperature negative": (lambda w: ["generate", w["lm"], "--temperature", "-1"], "--temperature"),
    "temperature nan": (lambda w: ["generate", w["lm"], "--temperature", "nan"], "--temperature"),
    "generate seed negative": (lambda w: ["generate", w["lm"], "--seed", "-3"], "--seed"),
    "prime unseen character": (lambda w: ["generate", w["lm"], "--prime", "Z\u00e9"], "never saw"),
    "output for text": (lambda w: ["generate", w["lm"], "--output", os.path.join(w["dir"], "x.txt")], "--output"),
    "generate a classifier": (lambda w: ["generate", w["clf"]], "does not generate"),
    "generate no folder": (lambda w: ["generate", "/nonexistent/run"], "not a model directory"),
    "generate a file": (lambda w: ["generate", w["text"]], "not a model directory"),
    "model truncated": (lambda w: ["generate", run_dir_with(w, "lm", "g1", "model.safetensors", truncate)],
                        "model.safetensors"),
    "model flipped byte": (lambda w: ["generate", run_dir_with(w, "lm", "g2", "model.safetensors", flip_last_byte)],
                           "checksum"),
    "model missing": (lambda w: ["generate", run_dir_with(w, "lm", "g3", "model.safetensors", os.unlink)],
                      "model.safetensors"),
    "model empty": (lambda w: ["generate", run_dir_with(w, "lm", "g4", "model.safetensors",
                                                       lambda p: open(p, "wb").close())], "empty"),
    "config missing": (lambda w: ["generate", run_dir_with(w, "lm", "g5", "config.json", os.unlink)], "config.json"),
    "config corrupt": (lambda w: ["generate", run_dir_with(w, "lm", "g6", "config.json", truncate)], "config.json"),
    "config a list": (lambda w: ["generate", run_dir_with(w, "lm", "g7", "config.json",
                                                         lambda p: open(p, "w").write("[]"))], "config.json"),
    "config without model": (lambda w: ["generate", run_dir_with(w, "lm", "g8", "config.json", delkey("model"))],
                             "'model'"),
    "config unknown model": (lambda w: ["generate", run_dir_with(w, "lm", "g9", "config.json",
                                                                setkey("model", "Transformer"))], "Transformer"),
    "config unknown task": (lambda w: ["generate", run_dir_with(w, "lm", "g10", "config.json",
                                                               setkey("task", "poetry"))], "poetry"),
    "config without vocab": (lambda w: ["generate", run_dir_with(w, "lm", "g11", "config.json", delkey("vocab"))],
                             "vocab"),
    "config hidden a word": (lambda w: ["generate", run_dir_with(w, "lm", "g12", "config.json",
                                                                _set_config("hidden", "big"))], "hidden"),
    "config unknown key": (lambda w: ["generate", run_dir_with(w, "lm", "g13", "config.json",
                                                              _set_config("colour", 1))], "colour"),
    "config config a list": (lambda w: ["generate", run_dir_with(w, "lm", "g14", "config.json",
                                                                setkey("config", []))], "config"),
    "weights of another size": (lambda w: ["generate", run_dir_with(w, "lm", "g15", "config.json",
                                                                   _set_config("hidden", 9))], "shape"),
    # ------------------------------------------------------------------ predict
    "beam 0": (lambda w: ["predict", w["clf"], "good", "--beam", "0"], "--beam"),
    "beam huge": (lambda w: ["predict", w["clf"], "good", "--beam", "1000"], "--beam"),
    "beam for a classifier": (lambda w: ["predict", w["clf"], "good", "--beam", "3"], "--beam"),
    "show-attention for a classifier": (lambda w: ["predict", w["clf"], "good", "--show-attention"],
                                        "--show-attention"),
    "predict a language model": (lambda w: ["predict", w["lm"], "x"], "does not predict"),
    "predict no folder": (lambda w: ["predict", "/nonexistent/run", "x"], "not a model directory"),
    "predict stdin not utf-8": (lambda w: ["predict", w["clf"]], "<stdin>:2", b"good movie\n\xff\xfe bad\n"),
    # ------------------------------------------------------------------ evaluate
    "evaluate without args.json": (lambda w: ["evaluate", run_dir_with(w, "clf", "e1", "args.json", os.unlink)],
                                   "--data"),
    "evaluate data missing": (lambda w: ["evaluate", w["clf"], "--data", "/nonexistent/e.csv"], "e.csv"),
    "evaluate unseen label": (lambda w: ["evaluate", w["clf"], "--data",
                                         data_file(w, "new.csv", "text,label\ngood,pos\nmeh,neutral\n")], "neutral"),
    "evaluate beam 0": (lambda w: ["evaluate", w["clf"], "--beam", "0"], "--beam"),
    "evaluate beam for a classifier": (lambda w: ["evaluate", w["clf"], "--beam", "2"], "--beam"),
    "evaluate args.json corrupt": (lambda w: ["evaluate", run_dir_with(w, "clf", "e2", "args.json", truncate)],
                                   "args.json"),
    "evaluate text data for a classifier": (lambda w: ["evaluate", w["clf"], "--data", w["text"]], "corpus.txt"),
    # ------------------------------------------------------------------ tagger, seq2seq, music models
    "tag predict beam": (lambda w: ["predict", w["tag"], "Bob flew", "--beam", "2"], "--beam"),
    "tag predict show-attention": (lambda w: ["predict", w["tag"], "Bob", "--show-attention"], "--show-attention"),
    "tag evaluate unseen tag": (lambda w: ["evaluate", w["tag"], "--data", data_file(w, "u.conll", "Bob B-ORG\n")],
                                "B-ORG"),
    "tag evaluate ragged": (lambda w: ["evaluate", w["tag"], "--data", data_file(w, "rg.conll", "a O\nb O c\n")],
                            "rg.conll:2"),
    "tag generate": (lambda w: ["generate", w["tag"]], "does not generate"),
    "tag config without labels": (lambda w: ["predict", run_dir_with(w, "tag", "t1", "config.json",
                                                                    delkey("labels")), "Bob"], "labels"),
    "seq2seq predict beam 0": (lambda w: ["predict", w["s2s"], "abc", "--beam", "0"], "--beam"),
    "seq2seq predict beam huge": (lambda w: ["predict", w["s2s"], "abc", "--beam", "101"], "--beam"),
    "seq2seq predict nothing to translate": (lambda w: ["predict", w["s2s"], "   "], "no tokens"),
    "seq2seq evaluate no tab": (lambda w: ["evaluate", w["s2s"], "--data", data_file(w, "nt2.tsv", "abc cba\n")],
                                "no tab"),
    "seq2seq evaluate beam 0": (lambda w: ["evaluate", w["s2s"], "--beam", "0"], "--beam"),
    "seq2seq generate": (lambda w: ["generate", w["s2s"]], "does not generate"),
    "seq2seq config without corpus": (lambda w: ["predict", run_dir_with(w, "s2s", "s1", "config.json",
                                                                        delkey("corpus")), "abc"], "corpus"),
    "music without output": (lambda w: ["generate", w["music"], "--length", "4"], "--output"),
    "music output not midi": (lambda w: ["generate", w["music"], "--output", os.path.join(w["dir"], "x.txt")],
                              ".mid"),
    "music output below a file": (lambda w: ["generate", w["music"], "--output", w["text"] + "/x.mid"],
                                  "corpus.txt"),
    "music top-k for a piano roll": (lambda w: ["generate", w["music"], "--top-k", "3", "--output",
                                                os.path.join(w["dir"], "m.mid")], "--top-k"),
    "music prime unknown name": (lambda w: ["generate", w["music"], "--prime", "nosuchpiece", "--output",
                                            os.path.join(w["dir"], "m.mid")], "nosuchpiece"),
    "music prime index out of range": (lambda w: ["generate", w["music"], "--prime", "999", "--output",
                                                  os.path.join(w["dir"], "m.mid")], "999"),
    "music prime broken midi": (lambda w: ["generate", w["music"], "--prime",
                                           data_file(w, "bad.mid", b"MThd\x00\x00 not midi"), "--output",
                                           os.path.join(w["dir"], "m.mid")], "bad.mid"),
    "music predict": (lambda w: ["predict", w["music"], "x"], "does not predict"),
    "music evaluate bad json": (lambda w: ["evaluate", w["music"], "--data", data_file(w, "mj.json", "[1, 2]")],
                                "mj.json"),
    "music evaluate beam": (lambda w: ["evaluate", w["music"], "--beam", "2"], "--beam"),
    "caption predict missing image": (lambda w: ["predict", w["cap"], "/nonexistent/a.png"], "a.png"),
    "caption predict not an image": (lambda w: ["predict", w["cap"], w["text"]], "not an image"),
    "caption predict show-attention": (lambda w: ["predict", w["cap"], w["text"], "--show-attention"],
                                       "--show-attention"),
    "caption generate": (lambda w: ["generate", w["cap"]], "does not generate"),
    "caption evaluate missing folder": (lambda w: ["evaluate", w["cap"], "--data", "/nonexistent/imgs"], "imgs"),
    "caption evaluate bad captions": (lambda w: ["evaluate", w["cap"], "--data", _bad_captions(w)], "missing.png"),
    # ------------------------------------------------------------------ report
    "report not a run directory": (lambda w: ["report", w["images"]], "not a run directory"),
    "report missing folder": (lambda w: ["report", "/nonexistent/run"], "not a directory"),
    "report a file": (lambda w: ["report", w["text"]], "not a directory"),
    "report run without metrics": (lambda w: ["report", run_dir_with(w, "clf", "p1", "metrics.jsonl", os.unlink)],
                                   "no metrics yet"),
    "report metrics not json": (lambda w: ["report", run_dir_with(w, "clf", "p2", "metrics.jsonl", truncate)],
                                "metrics.jsonl"),
    "report corrupt checkpoint": (lambda w: ["report", run_dir_with(w, "clf", "p3", "model.safetensors",
                                                                    flip_last_byte)], "checksum"),
    "report args.json missing": (lambda w: ["report", run_dir_with(w, "clf", "p4", "args.json", os.unlink)],
                                 "args.json"),
    "report png into a file": (lambda w: ["report", w["clf"], "--out", os.path.join(w["dir"], "p5.html"), "--png",
                                          w["text"]], "corpus.txt"),
    "report png below a file": (lambda w: ["report", w["clf"], "--out", os.path.join(w["dir"], "p6.html"), "--png",
                                           w["text"] + "/figs"], "corpus.txt"),
    "report out into a missing folder": (lambda w: ["report", w["clf"], "--out", missing(w, "r.html")],
                                         "does not exist"),
    "report config without vocab": (lambda w: ["report", run_dir_with(w, "clf", "p7", "config.json",
                                                                     delkey("vocab"))], "'vocab'"),
    "report speech config without labels": (lambda w: ["report", run_dir_with(w, "sp", "p8", "config.json",
                                                                             delkey("labels"))], "'labels'"),
    "report out is a folder": (lambda w: ["report", w["clf"], "--out", str(w["dir"])], "--out"),
    # ------------------------------------------------------------------ export
    "export missing folder": (lambda w: ["export", "/nonexistent/run", "--format", "torch", "--out",
                                         os.path.join(w["dir"], "x.safetensors")], "/nonexistent/run"),
    "export corrupt model": (lambda w: ["export", run_dir_with(w, "lm", "x1", "model.safetensors", flip_last_byte),
                                        "--format", "torch", "--out", os.path.join(w["dir"], "x.safetensors")],
                             "checksum"),
    "export truncated model": (lambda w: ["export", run_dir_with(w, "lm", "x2", "model.safetensors", truncate),
                                          "--format", "onnx", "--out", os.path.join(w["dir"], "x.onnx")],
                               "model.safetensors"),
    "export bad format": (lambda w: ["export", w["lm"], "--format", "tflite", "--out",
                                     os.path.join(w["dir"], "x.tflite")], "--format"),
    "export without out": (lambda w: ["export", w["lm"], "--format", "torch"], "--out"),
    "export out into a missing folder": (lambda w: ["export", w["lm"], "--format", "torch", "--out",
                                                    missing(w, "m.safetensors")], "does not exist"),
    "export out is a folder": (lambda w: ["export", w["lm"], "--format", "torch", "--out", str(w["dir"])], "--out"),
    "export onnx out into a missing folder": (lambda w: ["export", w["clf"], "--format", "onnx", "--out",
                                                         missing(w, "m.onnx")], "does not exist"),
    # ------------------------------------------------------------------ speech data (train)
    "speech folder missing": (lambda w: speech_train(w, "/nonexistent/speech"), "/nonexistent/speech"),
    "speech folder without transcripts": (lambda w: speech_train(w, w["images"]), "transcripts.tsv"),
    "speech line without tab": (lambda w: speech_train(w, speech_data(w, "s1", "u0.npy zero")),
                                "transcripts.tsv:1"),
    "speech missing audio": (lambda w: speech_train(w, speech_data(w, "s2", "gone.wav\tzero")), "gone.wav"),
    "speech missing npy": (lambda w: speech_train(w, speech_data(w, "s3", "gone.npy\tzero")), "gone.npy"),
    "speech empty transcript": (lambda w: speech_train(w, speech_data(w, "s4", "u0.npy\t   ")),
                                "empty transcript"),
    "speech transcript too long": (lambda w: speech_train(w, speech_data(w, "s5", "u0.npy\t" + " ".join(DIGITS))),
                                   "needs at least"),
    "speech transcript too long for subsample": (lambda w: speech_train(w, w["speech"], "--subsample", "8"),
                                                 "subsample 8"),
    "speech file listed twice": (lambda w: speech_train(w, speech_data(w, "s6", "u1.npy\tone")), "twice"),
    "speech audio not audio": (lambda w: speech_train(w, speech_data(w, "s7", "bad.wav\tzero",
                                                                     extra={"bad.wav": b"RIFF not a wave"})),
                               "bad.wav"),
    "speech npy not an array": (lambda w: speech_train(w, speech_data(w, "s8", "bad.npy\tzero",
                                                                      extra={"bad.npy": b"not an array"})),
                                "bad.npy"),
    "speech npy of one dimension": (lambda w: speech_train(w, speech_data(w, "s9", "one.npy\tzero", extra={
        "one.npy": npy_bytes([1.0, 2.0])})),
                                    "one.npy"),
    "speech npy other width": (lambda w: speech_train(w, speech_data(w, "s10", "wide.npy\tzero", extra={
        "wide.npy": npy_bytes([[0.0] * 5] * 30)})),
                               "wide.npy"),
    "speech audio among npy": (lambda w: speech_train(w, speech_data(w, "s11", "a.wav\tzero",
                                                                     extra={"a.wav": _wav_bytes()})),
                               "one kind per folder"),
    "speech transcripts not utf-8": (lambda w: speech_train(w, speech_data(w, "s12", extra={"transcripts.tsv": "".join(
        f"u{i}.npy\t{DIGITS[i % 10]}\n" for i in range(20)).replace("zero", "z\xe9ro").encode("latin-1")})), "UTF-8"),
    "speech too few utterances": (lambda w: speech_train(w, speech_data(w, "s13", n=5)), "10 utterances"),
    "speech subsample 0": (lambda w: speech_train(w, w["speech"], "--subsample", "0"), "--subsample"),
    "speech features unknown": (lambda w: speech_train(w, w["speech"], "--features", "plp"), "--features"),
    "speech level unknown": (lambda w: speech_train(w, w["speech"], "--level", "phone"), "--level"),
    "speech lexicon missing": (lambda w: speech_train(w, w["speech"], "--lexicon", "/nonexistent/words.txt"),
                               "words.txt"),
    "speech lexicon empty": (lambda w: speech_train(w, w["speech"], "--lexicon", data_file(w, "nowords.txt", " \n")),
                             "empty"),
    "speech flag for charlm": (lambda w: lm_train(w, "--subsample", "2"), "--subsample"),
    # ------------------------------------------------------------------ speech models (predict, evaluate)
    "speech predict missing file": (lambda w: ["predict", w["sp"], "/nonexistent/u.npy"], "u.npy"),
    "speech predict text file": (lambda w: ["predict", w["sp"], w["text"]], "corpus.txt"),
    "speech predict wav for a features model": (lambda w: ["predict", w["sp"], data_file(w, "p.wav", _wav_bytes())],
                                                ".npy"),
    "speech predict wrong width": (lambda w: ["predict", w["sp"], npy(w, "w5.npy", [[0.0] * 5] * 20)],
                                   "5 features per frame"),
    "speech predict one dimension": (lambda w: ["predict", w["sp"], npy(w, "d1.npy", [0.0] * 13)], "d1.npy"),
    "speech predict no frames": (lambda w: ["predict", w["sp"], npy(w, "f0.npy", [[0.0] * 13][:0])], "f0.npy"),
    "speech predict nan": (lambda w: ["predict", w["sp"], npy(w, "nan.npy", [[float("nan")] * 13] * 20)], "NaN"),
    "speech predict text array": (lambda w: ["predict", w["sp"], npy(w, "str.npy", [["a"] * 13] * 20)], "str.npy"),
    "speech predict pickled object": (lambda w: ["predict", w["sp"], _object_npy(w)], "obj.npy"),
    "speech predict a folder": (lambda w: ["predict", w["sp"], w["speech"]], "speech"),
    "speech predict beam 0": (lambda w: ["predict", w["sp"], os.path.join(w["speech"], "u0.npy"), "--beam", "0"],
                              "--beam"),
    "speech predict show-attention": (lambda w: ["predict", w["sp"], os.path.join(w["speech"], "u0.npy"),
                                                 "--show-attention"], "--show-attention"),
    "speech generate": (lambda w: ["generate", w["sp"]], "does not generate"),
    "speech evaluate unseen character": (lambda w: ["evaluate", w["sp"], "--data",
                                                    speech_data(w, "e1", "u0.npy\tquux")], "'q'"),
    "speech evaluate missing folder": (lambda w: ["evaluate", w["sp"], "--data", "/nonexistent/speech"],
                                       "/nonexistent/speech"),
    "speech evaluate line without tab": (lambda w: ["evaluate", w["sp"], "--data", speech_data(w, "e2", "u0.npy")],
                                         "transcripts.tsv:1"),
    "speech evaluate missing file": (lambda w: ["evaluate", w["sp"], "--data", speech_data(w, "e3", "x.npy\tzero")],
                                     "x.npy"),
    "speech evaluate wav for a features model": (lambda w: ["evaluate", w["sp"], "--data", speech_data(
        w, "e4", "a.wav\tzero", extra={"a.wav": _wav_bytes()})], "a.wav"),
    "speech evaluate other width": (lambda w: ["evaluate", w["sp"], "--data", speech_data(w, "e5", "wide.npy\tzero", extra={
        "wide.npy": npy_bytes([[0.0] * 5] * 30)})],
                                    "features per frame"),
    "speech evaluate transcript too long": (lambda w: ["evaluate", w["sp"], "--data", speech_data(
        w, "e6", "u0.npy\t" + "".join(DIGITS))], "needs at least"),
    "speech evaluate beam 0": (lambda w: ["evaluate", w["sp"], "--beam", "0"], "--beam"),
    "speech evaluate text file": (lambda w: ["evaluate", w["sp"], "--data", w["text"]], "corpus.txt"),
    "speech config without labels": (lambda w: ["predict", run_dir_with(w, "sp", "sc1", "config.json",
                                                                       delkey("labels")),
                                                os.path.join(w["speech"], "u0.npy")], "labels"),
    "speech config without level": (lambda w: ["evaluate", run_dir_with(w, "sp", "sc2", "config.json",
                                                                       delkey("level"))], "level"),
    # ------------------------------------------------------------------ --backend, --device
    "backend unknown": (lambda w: lm_train(w, "--backend", "jax"), "--backend"),
    "device unknown": (lambda w: lm_train(w, "--backend", "torch", "--device", "tpu"), "--device"),
    "device cuda without cuda": (lambda w: lm_train(w, "--backend", "torch", "--device", no_such_cuda()),
                                 "--device"),
    "device cuda for numpy": (lambda w: lm_train(w, "--device", "cuda"), "--backend torch"),
    "device cuda resume without cuda": (lambda w: ["train", "--resume", resumable(w, "r18"), "--backend", "torch",
                                                   "--device", no_such_cuda()], "--device"),
    "device unknown on resume": (lambda w: ["train", "--resume", resumable(w, "r19"), "--device", "gpu0"],
                                 "--device"),
    # ------------------------------------------------------------------ data and the command itself
    "data get unknown": (lambda w: ["data", "get", "nosuchset"], "nosuchset"),
    "data without subcommand": (lambda w: ["data"], "data_command"),
    "data unknown subcommand": (lambda w: ["data", "fetch"], "fetch"),
    "no command": (lambda w: [], "command"),
    "unknown command": (lambda w: ["serve"], "serve"),
    "version with junk": (lambda w: ["--threads", "2", "nothing"], "nothing"),
}


def _wav_bytes():
    """Half a second of a 440 Hz tone as 16 kHz PCM WAV."""
    import numpy as np
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, 0.3 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000), 16000, format="WAV")
    return buf.getvalue()


def npy_bytes(array):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array(array))
    return buf.getvalue()


def _object_npy(w):
    """An .npy file of Python objects (loading it would need pickle)."""
    import numpy as np

    path = w["dir"] / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return str(path)


def _bad_captions(w):
    folder = w["dir"] / "badcap"
    folder.mkdir(exist_ok=True)
    (folder / "captions.tsv").write_text("missing.png\ta red square\n")
    return str(folder)


def _set_config(key, value):
    def change(obj):
        obj["config"][key] = value
        return obj
    return lambda path: edit_json(path, change)


def _mutated_resume(w, name, mutate):
    out = resumable(w, name)
    mutate(os.path.join(out, "resume.safetensors"))
    return out


def _resume_meta(w, name, key, value):
    """A resume checkpoint whose metadata key is replaced (None: removed), saved with a valid checksum."""
    from rnnlab.train.checkpoint import load_arrays, save_arrays

    out = resumable(w, name)
    path = os.path.join(out, "resume.safetensors")
    arrays, meta = load_arrays(path)
    if value is None:
        del meta[key]
    else:
        meta[key] = {**meta[key], **value}
    save_arrays(path, arrays, meta)
    return out


def _changed_data(w, name):
    text = data_file(w, f"{name}.txt", TEXT)
    out = os.path.join(w["dir"], name)
    shutil.rmtree(out, ignore_errors=True)
    _main(["train", "charlm", "--data", text, "--layers", "1", "--bptt", "8", "--out", out, "--keep-resume"] + TINY)
    os.unlink(os.path.join(out, "metrics.json"))
    _write(w["dir"] / f"{name}.txt", TEXT + "more\n")
    return out


def runs_named(argv):
    """{run directory: digest} of every run directory the command line names (each must come out unchanged)."""
    return {a: _digest(a) for a in argv if isinstance(a, str) and os.path.isfile(os.path.join(a, "args.json"))}


def outcome(rc, err):
    lines = err.strip().splitlines()
    if "Traceback" in err or rc == 1 or "internal error" in err:
        return "traceback"
    if rc == 0:
        return "accepted"
    if rc == 2 and len(lines) == 1 and lines[0].startswith("rnnlab: error: "):
        return "clean"
    return "other"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clean_line(w, name, capsys, monkeypatch):
    case = CASES[name]
    argv = case[0](w)
    if len(case) > 2:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(case[2]), encoding="utf-8"))
    capsys.readouterr()
    before = runs_named(argv)
    rc, _, err = run_cli(argv, capsys)
    result = outcome(rc, err)
    assert result == "clean", (result, rc, err[-2000:])
    assert case[1] in err, (case[1], err)
    assert runs_named(argv) == before           # a refused command changes no run it names


def test_the_sweep_is_large_and_lost_nothing(w):
    assert len(CASES) >= 100
    assert {k: _digest(w[k]) for k in RUNS} == w["digests"]


if __name__ == "__main__":
    # `python tests/test_bad_input_sweep.py`: every case's outcome and the counts
    import collections
    import pathlib
    import tempfile

    class Folders:
        def mktemp(self, name):
            return pathlib.Path(tempfile.mkdtemp(prefix=name))

    world, counts = w.__wrapped__(Folders()), collections.Counter()
    changed = 0
    for name in sorted(CASES):
        case = CASES[name]
        argv = case[0](world)
        before = runs_named(argv)
        sys.stdin = io.TextIOWrapper(io.BytesIO(case[2] if len(case) > 2 else b""), encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            from rnnlab.cli import main

            rc = main(argv)
        counts[outcome(rc, err.getvalue())] += 1
        changed += runs_named(argv) != before
        print(f"{outcome(rc, err.getvalue()):9s} {name}: {err.getvalue().strip()[:160]}")
    lost = sum(_digest(world[k]) != world["digests"][k] for k in RUNS) + changed
    print(f"{len(CASES)} cases: {counts['clean']} clean errors, {counts['traceback']} tracebacks, "
          f"{counts['accepted']} silent acceptances, {counts['other']} other, {lost} runs changed (data lost: the "
          f"{len(RUNS)} trained runs, and every run a case names, compared byte for byte)")
    shutil.rmtree(world["dir"])
