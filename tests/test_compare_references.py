"""The PyTorch reference models of the same-budget comparison (benchmarks/compare.py) run on a user's
files through rnnlab's own data pipeline and metric code, and learn: a short budget on an easy
file beats the trivial answer."""
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import compare  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_classify_reference_learns_a_keyword_rule(tmp_path):
    rng = np.random.default_rng(0)
    words = ["film", "plot", "actor", "scene", "story", "music", "cast", "ending"]
    lines = ["text,label"]
    for i in range(240):
        label = "pos" if i % 2 else "neg"
        body = " ".join(rng.choice(words, 4))
        lines.append(f"{body} {'great' if label == 'pos' else 'awful'} {body},{label}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    got = compare.torch_classify(str(path), 6)
    assert got["steps"] > 0 and got["epochs"] >= 1
    assert got["examples"] == 24 and got["accuracy"] >= 0.9, got


def test_charlm_reference_beats_a_uniform_guess(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on the mat. " * 2000)
    got = compare.torch_charlm(str(path), 6)
    vocab = len(set(path.read_text()))
    assert got["steps"] > 0
    assert got["test_bpc"] < 0.5 * np.log2(vocab), got


def test_pos_and_translation_references_select_by_accuracy_and_loss(tmp_path):
    conll = tmp_path / "pos.conll"
    nouns, verbs = ["dog", "cat", "bird", "fish", "cow", "fox"], ["runs", "eats", "sleeps", "sits", "hides"]
    dets, advs = ["the", "a", "my", "this"], ["fast", "here", "now"]
    conll.write_text("".join(f"{d}\tDET\n{n}\tNOUN\n{v}\tVERB\n{a}\tADV\n\n"
                             for d in dets for n in nouns for v in verbs for a in advs))
    got = compare.torch_tag(str(conll), 4)
    assert "f1" not in got and got["tokens"] >= 40 and got["accuracy"] >= 0.9, got
    assert compare.row_metric("tag", "Turkish UPOS 450 sentences") == ("accuracy", "max")
    tsv = tmp_path / "en_es.tsv"
    en, es = ["the dog", "the cat", "a bird", "a fish", "my house"], ["el perro", "el gato", "un pájaro", "un pez", "mi casa"]
    tsv.write_text("".join(f"{a} {i}\t{b} {i}\n" for i in range(60) for a, b in zip(en, es)))
    got = compare.torch_seq2seq(str(tsv), 4)
    assert got["steps"] > 0 and "test_chrf" in got and "test_wer" not in got, got
    assert compare.row_metric("seq2seq", "Bible en-es 2k short verses") == ("test_chrf", "max")


def test_tag_and_seq2seq_references_run_and_score(tmp_path):
    conll = tmp_path / "ner.conll"
    names, words = ["Bob", "Alice", "Tom", "Ann"], ["today", "here", "there", "again", "twice"]
    conll.write_text("".join(f"{a}\tB-PER\nmet\tO\n{b}\tB-PER\n{w}\tO\n\n"
                             for a in names for b in names for w in words))
    got = compare.torch_tag(str(conll), 4)
    assert got["steps"] > 0 and 0.0 <= got["f1"] <= 1.0
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{w}\t{' '.join(w.upper())}\n" for w in
                           ["".join(np.random.default_rng(i).choice(list("abcde"), 4)) for i in range(400)]))
    got = compare.torch_seq2seq(str(tsv), 4)
    assert got["steps"] > 0 and 0.0 <= got["test_wer"] <= 1.0 and 0.0 <= got["test_per"]


def test_table_marks_the_better_side(tmp_path):
    import json

    folder = compare.row_dir(str(tmp_path), "classify", "Rotten Tomatoes 400 snippets")
    os.makedirs(folder)
    for side, acc, steps in (("rnnlab", 0.70, 500), ("pytorch", 0.65, 300)):
        with open(os.path.join(folder, f"{side}.json"), "w") as f:
            json.dump({"accuracy": acc, "steps": steps, "settings": {}}, f)
    text = compare.table(str(tmp_path))
    assert "| classify | Rotten Tomatoes 400 snippets | 90 CPU s | test accuracy (higher is better) | **0.700** | " \
           "0.650 | 500 / 300 |" in text


def test_table_compares_means_over_the_seeds_both_sides_ran(tmp_path):
    import json

    folder = compare.row_dir(str(tmp_path), "seq2seq", "CMUdict 2k pairs")
    os.makedirs(folder)
    runs = {"rnnlab.json": 0.50, "rnnlab-seed1.json": 0.40, "pytorch.json": 0.46, "pytorch-seed1.json": 0.46,
            "pytorch-seed2.json": 0.10}                    # seed 2 has no rnnlab run: left out of the means
    for name, wer in runs.items():
        with open(os.path.join(folder, name), "w") as f:
            json.dump({"test_wer": wer, "steps": 100, "settings": {}}, f)
    row = [line for line in compare.table(str(tmp_path)).splitlines() if "CMUdict 2k" in line][0]
    assert "| **0.450** (0.500, 0.400) | 0.460 (0.460, 0.460) | 100 / 100 |" in row, row
