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
    f["digests"] = {k: _digest(f[k]) for k in RUNS}
    return f


RUNS = ("lm", "clf", "tag", "s2s", "music", "cap")


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
    # ------------------------------------------------------------------ data and the command itself
    "data get unknown": (lambda w: ["data", "get", "nosuchset"], "nosuchset"),
    "data without subcommand": (lambda w: ["data"], "data_command"),
    "data unknown subcommand": (lambda w: ["data", "fetch"], "fetch"),
    "no command": (lambda w: [], "command"),
    "unknown command": (lambda w: ["serve"], "serve"),
    "version with junk": (lambda w: ["--threads", "2", "nothing"], "nothing"),
}


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
    rc, _, err = run_cli(argv, capsys)
    result = outcome(rc, err)
    assert result == "clean", (result, rc, err[-2000:])
    assert case[1] in err, (case[1], err)


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
    for name in sorted(CASES):
        case = CASES[name]
        argv = case[0](world)
        sys.stdin = io.TextIOWrapper(io.BytesIO(case[2] if len(case) > 2 else b""), encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            from rnnlab.cli import main

            rc = main(argv)
        counts[outcome(rc, err.getvalue())] += 1
        print(f"{outcome(rc, err.getvalue()):9s} {name}: {err.getvalue().strip()[:160]}")
    lost = sum(_digest(world[k]) != world["digests"][k] for k in RUNS)
    print(f"{len(CASES)} cases: {counts['clean']} clean errors, {counts['traceback']} tracebacks, "
          f"{counts['accepted']} silent acceptances, {counts['other']} other, {lost} runs changed (data lost)")
    shutil.rmtree(world["dir"])
