"""Tiny real training runs of every task, shared by the report tests (made once per test session)."""
import itertools
import json
import os

import numpy as np

from rnnlab.cli import main

TEXT_CHARS = 40_000          # the charlm runs read the start of the built-in Shakespeare corpus
FAST = ["--max-time", "4", "--quiet", "--seed", "0"]


def write_data(folder):
    """One small real data file (or folder) per task, in ``folder``; {task: path or dataset name}."""
    from test_caption import COLORS, SHAPES, SIZES, draw
    from test_music import synthetic_chorales
    from test_seq2seq_cli import random_words
    from test_tag_cli import ner_sentences, write_conll

    os.makedirs(folder, exist_ok=True)
    from rnnlab.data import load_dataset

    text = os.path.join(folder, "shakespeare.txt")
    open(text, "w", encoding="utf-8").write(load_dataset("shakespeare")[:TEXT_CHARS])
    tsv = os.path.join(folder, "reverse.tsv")
    open(tsv, "w", encoding="utf-8").write("".join(f"{w}\t{w[::-1].upper()}\n" for w in random_words(300)))
    chorales = os.path.join(folder, "chorales.json")
    open(chorales, "w", encoding="utf-8").write(json.dumps(synthetic_chorales(24)))
    from pathlib import Path

    conll = write_conll(Path(folder) / "ner.conll", ner_sentences(200))
    from PIL import Image

    images = os.path.join(folder, "shapes")
    os.makedirs(images, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, (size, color, shape) in enumerate(list(itertools.product(SIZES, COLORS, SHAPES)) * 3):
        Image.fromarray(draw(size, color, shape, rng), "RGBA").save(os.path.join(images, f"img{i:03d}.png"))
        lines.append(f"img{i:03d}.png\tA {size} {color} {shape}")
    open(os.path.join(images, "captions.tsv"), "w", encoding="utf-8").write("\n".join(lines) + "\n")
    return {"charlm": text, "classify": "order", "tag": conll, "seq2seq": tsv, "music": chorales, "caption": images,
            "speech": speech_folder(os.path.join(folder, "speech"))}


def speech_folder(folder, n=40):
    """Spelled digits over digit-shaped frames: n .npy utterances (12-24 frames) and transcripts.tsv."""
    from test_speech import fake_digits

    os.makedirs(folder, exist_ok=True)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rows = []
    for i, (frames, d) in enumerate(fake_digits(n)):
        np.save(os.path.join(folder, f"u{i}.npy"), np.concatenate([frames, frames]))
        rows.append(f"u{i}.npy\t{names[int(d)]}\n")
    open(os.path.join(folder, "transcripts.tsv"), "w", encoding="utf-8").write("".join(rows))
    return folder


FLAGS = {
    "charlm": ["--cell", "lstm", "--hidden", "32", "--embed", "8", "--layers", "2", "--batch", "8", "--bptt", "32", "--epochs", "2"],
    "classify": ["--hidden", "16", "--embed", "8", "--limit", "400", "--epochs", "2"],
    "tag": ["--hidden", "16", "--embed", "8", "--char-embed", "4", "--epochs", "2"],
    "seq2seq": ["--hidden", "16", "--embed", "8", "--epochs", "2"],
    "music": ["--hidden", "12", "--batch", "4", "--epochs", "2"],
    "caption": ["--hidden", "16", "--embed", "8", "--batch", "8", "--pca", "8", "--epochs", "2"],
    "speech": ["--hidden", "12", "--layers", "2", "--subsample", "2", "--batch", "8",
               "--epochs", "2"],
}


def train(task, data, out, extra=()):
    """``rnnlab train`` in-process on one BLAS thread (restored afterwards, unlike --threads)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        rc = main(["train", task, "--data", data, "--out", out, *FAST, *FLAGS[task], *extra])
    assert rc == 0, task
    return out


def make_runs(folder):
    """({task: run directory}, {task: its data}) for a tiny run of every task."""
    data = write_data(os.path.join(folder, "data"))
    return {task: train(task, data[task], os.path.join(folder, task)) for task in FLAGS}, data
