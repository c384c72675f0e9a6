"""`rnnlab train seq2seq` end to end on tiny synthetic pairs: learning, predict/beam/attention, metrics, bad input."""
import contextlib
import io
import json
import os

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.tasks import load_run
from rnnlab.tasks import seq2seq as s2s

FAST = ["--hidden", "32", "--embed", "16", "--batch", "16", "--lr", "0.01", "--quiet"]


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


def json_lines(text):
    return [json.loads(line) for line in text.strip().splitlines()]


def random_words(n, letters="abcdef", lengths=(2, 6), seed=0):
    rng = np.random.default_rng(seed)
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(list(letters), int(rng.integers(*lengths)))))
    return sorted(words)


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    """A bidirectional LSTM + Luong attention trained to reverse and upper-case short strings (char -> char)."""
    d = tmp_path_factory.mktemp("reverse")
    data = d / "reverse.tsv"
    data.write_text("".join(f"{w}\t{w[::-1].upper()}\n" for w in random_words(600)), encoding="utf-8")
    out = str(d / "run")
    rc, stdout, err = run_cli(["train", "seq2seq", "--data", str(data), "--bidirectional", "--epochs", "6",
                               "--out", out] + FAST)
    assert rc == 0, err
    return out, json_lines(stdout)[-1]


def test_training_learns_the_tsv(reverse_run):
    out, m = reverse_run
    assert m["test_wer"] <= 0.1 and m["test_per"] <= 0.05, m
    assert m["val_wer"] <= 0.2, m
    run = json.load(open(os.path.join(out, "config.json")))
    assert run["corpus"] == {"source": "char", "target": "char", "lower_source": False, "metrics": "g2p"}
    assert run["split_sizes"] == [540, 30, 30]          # 90/5/5 of 600 distinct sources


def test_predict_beam_one_is_greedy(reverse_run):
    out, _ = reverse_run
    words = ["abc", "fedcb", "ba", "cafe", "aaaaf"]
    rc, stdout, _ = run_cli(["predict", out, *words, "--beam", "1"])
    assert rc == 0
    got = json_lines(stdout)
    run, model = load_run(out)
    codec = s2s.Codec.from_run(run)
    for w, g in zip(words, got):
        ids, _ = model.greedy_decode(np.array([codec.src_ids(w)]), None, bos=codec.bos, eos=codec.eos,
                                     max_len=codec.max_len)
        want = "".join(codec.output_tokens(ids[0]))
        assert g["input"] == w and g["output"] == want and g["score"] <= 0
    assert sum(g["output"] == w[::-1].upper() for w, g in zip(words, got)) >= 4, got
    rc, stdout, _ = run_cli(["predict", out, *words, "--beam", "4"])
    beam = json_lines(stdout)
    assert rc == 0 and [b["input"] for b in beam] == words
    # beam 4 keeps the greedy path unless a better one exists: its best log-probability is never lower here
    assert all(b["score"] >= g["score"] - 1e-3 for b, g in zip(beam, got))


def test_show_attention_shape(reverse_run):
    out, _ = reverse_run
    rc, stdout, _ = run_cli(["predict", out, "abcd", "--show-attention"])
    (r,) = json_lines(stdout)
    assert rc == 0 and r["source_tokens"] == list("abcd")
    assert r["target_tokens"][-1] == "<eos>" and "".join(r["target_tokens"][:-1]) == r["output"]
    a = np.array(r["attention"])
    assert a.shape == (len(r["target_tokens"]), len(r["source_tokens"]))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=5e-3)   # rows rounded to 3 decimals


def test_evaluate_matches_training_test_split(reverse_run):
    out, m = reverse_run
    rc, stdout, _ = run_cli(["evaluate", out])
    e = json.loads(stdout)
    assert rc == 0 and e["split"] == "test" and e["decoding"] == "greedy"
    assert e["sources"] == 30 and e["wer"] == pytest.approx(m["test_wer"]) and e["per"] == pytest.approx(m["test_per"])
    assert e["loss"] == pytest.approx(m["test_loss"], rel=1e-5)
    # a `beam` setting switches evaluation to beam search (the CLI's evaluate has no --beam)
    run, model = load_run(out)
    settings = {**json.load(open(os.path.join(out, "args.json"))), "beam": 3}
    b = s2s.evaluate(run, model, settings)
    assert b["decoding"] == "beam3" and b["sources"] == 30 and b["wer"] <= 0.1


def test_bad_tsv_line_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("abc\tcba\nno tab here\n", encoding="utf-8")
    rc, stdout, err = run_cli(["train", "seq2seq", "--data", str(bad), "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2 and stdout == ""
    assert err.count("\n") == 1 and f"{bad}:2:" in err and err.startswith("rnnlab: error:")


def test_flag_seq2seq_does_not_take(tmp_path):
    rc, _, err = run_cli(["train", "seq2seq", "--bptt", "10", "--out", str(tmp_path / "x")])
    assert rc == 2 and "--bptt" in err


# ---------------------------------------------------------------------- metrics and data handling
def test_edit_distance_and_multi_reference_rates():
    assert s2s.edit_distance("kitten", "sitting") == 3
    assert s2s.edit_distance([], ["a", "b"]) == 2 and s2s.edit_distance(["a"], ["a"]) == 0
    refs = [[["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]],   # two pronunciations
            [["K", "AE", "T"]]]
    # word 1 equals its second reference: correct; word 2 has one substitution against 3 phonemes
    r = s2s.error_rates([["T", "AH", "M", "AA", "T", "OW"], ["K", "AA", "T"]], refs)
    assert r["wer"] == 0.5 and r["per"] == pytest.approx(1 / 9)
    # the closest reference sets the PER: one edit against the 6-phoneme reference
    r = s2s.error_rates([["T", "AH", "M", "EY", "T"]], refs[:1])
    assert r == {"wer": 1.0, "per": pytest.approx(1 / 6)}


def test_level_auto_reads_each_side():
    c = s2s.corpus_for("my.tsv", [("cat", "K AE T"), ("dog", "D AO G")], "auto")
    assert (c.source, c.target, c.metrics) == ("char", "space", "g2p")
    c = s2s.corpus_for("my.tsv", [("the cat", "el gato"), ("a dog", "un perro")], "auto")
    assert (c.source, c.target, c.metrics) == ("space", "space", "translation")
    c = s2s.corpus_for("my.tsv", [("the cat.", "el gato.")], "word")
    assert (c.source, c.target, c.metrics) == ("word", "word", "translation")
    assert c.src_tokens("the cat.") == ["the", "cat", "."]
    with pytest.raises(ValueError, match="level"):
        s2s.corpus_for("my.tsv", [("a", "b")], "bytes")


PHONES = {"a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH"}


def fake_cmudict(alternates=True, stress=True):
    """A CMUdict-shaped list: one phoneme per letter, and a second pronunciation for words ending in 'e'."""
    out = []
    for w in random_words(500, letters="abcdefgh", lengths=(2, 7), seed=1):
        phones = [PHONES[ch] + ("1" if stress and PHONES[ch] in ("AE", "EH") else "") for ch in w]
        out.append((w, phones))
        if alternates and w.endswith("e"):
            out.append((w, phones[:-1]))                               # silent final e
    return out


def test_cmudict_splits_by_word_and_scores_any_pronunciation(tmp_path, monkeypatch):
    import rnnlab.data

    monkeypatch.setattr(rnnlab.data, "load_cmudict", fake_cmudict)
    settings = {**s2s.DEFAULTS, "task": "seq2seq", "seed": 0, "limit": None, "hidden": 8, "embed": 4}
    task = s2s.build(settings)
    train_words = {w for w, _ in task.groups["train"]}
    val_words = {w for w, _ in task.groups["val"]}
    test_words = {w for w, _ in task.groups["test"]}
    assert not train_words & test_words and not train_words & val_words and not val_words & test_words
    n_words = len({w for w, _ in fake_cmudict()})
    assert sum(task.extra["split_sizes"]) == n_words and task.extra["split_sizes"][2] == round(0.1 * n_words)
    assert all(len(ts) == 2 for w, ts in task.groups["test"] if w.endswith("e"))   # both pronunciations kept together
    assert "AE" in task.codec.tgt_vocab and "AE1" not in task.codec.tgt_vocab     # stress removed by default

    out = str(tmp_path / "g2p")
    rc, stdout, err = run_cli(["train", "seq2seq", "--data", "cmudict", "--bidirectional", "--epochs", "8",
                               "--out", out] + FAST)
    assert rc == 0, err
    m = json_lines(stdout)[-1]
    assert m["test_wer"] <= 0.2 and m["test_per"] <= 0.1, m
    rc, stdout, _ = run_cli(["predict", out, "BAD", "cafe"])
    bad, cafe = json_lines(stdout)
    assert bad["output"] == "B AE D"                          # upper-case input is read as the word
    assert cafe["output"] in ("K AE F EH", "K AE F")


def test_word_level_tsv_reports_bleu_and_chrf(tmp_path):
    pytest.importorskip("sacrebleu")
    en = ["one", "two", "three", "four", "five", "six"]
    es = ["uno", "dos", "tres", "cuatro", "cinco", "seis"]
    rng = np.random.default_rng(0)
    lines = set()
    while len(lines) < 400:
        idx = rng.integers(0, 6, int(rng.integers(2, 5)))
        lines.add(" ".join(en[i] for i in idx) + "\t" + " ".join(es[i] for i in idx))
    data = tmp_path / "numbers.tsv"
    data.write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
    out = str(tmp_path / "mt")
    rc, stdout, err = run_cli(["train", "seq2seq", "--data", str(data), "--epochs", "6", "--out", out] + FAST)
    assert rc == 0, err
    m = json_lines(stdout)[-1]
    assert {"test_bleu", "test_chrf", "val_loss"} <= set(m) and "test_wer" not in m
    assert m["test_bleu"] > 50 and m["test_chrf"] > 60, m
    rc, stdout, _ = run_cli(["predict", out, "three one five"])
    assert json_lines(stdout)[0]["output"] == "tres uno cinco"
