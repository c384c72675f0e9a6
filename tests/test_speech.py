"""`rnnlab train speech`: CTC decoding, connected digits, the CLI, speech folders and their errors."""
import itertools
import json
import math

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from rnnlab.ctc import ctc_loss
from rnnlab.data.speech import connect_digits
from rnnlab.models.ctc_decode import Lexicon, greedy_decode, prefix_beam_search
from rnnlab.tasks import speech


# ---------------------------------------------------------------------- decoding
def random_logp(rng, T, C, peak=None):
    z = rng.standard_normal((T, C))
    if peak is not None:                       # one label per frame with probability >= peak
        best = rng.integers(0, C, size=T)
        p = (1 - peak) * np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        p[np.arange(T), best] += peak
        return np.log(p)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def brute_force(logp, blank=0):
    """{labels: probability} summed over every frame path (C^T of them)."""
    out = {}
    for path in itertools.product(range(logp.shape[1]), repeat=logp.shape[0]):
        seq = tuple(greedy_decode(np.eye(logp.shape[1])[list(path)], blank))
        out[seq] = out.get(seq, 0.0) + math.exp(sum(logp[t, k] for t, k in enumerate(path)))
    return out


def test_greedy_merges_repeats_and_drops_blanks():
    ids = [0, 3, 3, 0, 3, 1, 1, 0, 0, 2]
    assert greedy_decode(np.eye(4)[ids]) == [3, 3, 1, 2]
    assert greedy_decode(np.eye(4)[[2, 2, 2]], blank=2) == []


@pytest.mark.parametrize("seed", range(6))
def test_beam_of_one_is_greedy_on_confident_frames(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        logp = random_logp(rng, int(rng.integers(1, 30)), int(rng.integers(2, 8)), peak=0.8)
        (labels, score), = prefix_beam_search(logp, beam=1)
        assert labels == greedy_decode(logp)


@pytest.mark.parametrize("seed,blank", [(0, 0), (1, 2), (2, 0)])
def test_wide_beam_gives_exact_sequence_probabilities(seed, blank, close):
    logp = random_logp(np.random.default_rng(seed), 5, 3)
    exact = brute_force(logp, blank)
    nbest = prefix_beam_search(logp, beam=100, blank=blank)
    assert len(nbest) == len(exact)
    assert [s for _, s in nbest] == sorted((s for _, s in nbest), reverse=True)
    for labels, score in nbest:
        close(str(labels), score, math.log(exact[tuple(labels)]), 1e-10)
        if labels:   # and equal -CTC loss, the same probability by the forward algorithm
            close("ctc", score, -ctc_loss(logp[None], [labels], blank=blank, reduction="sum")[0], 1e-10)


def test_beam_finds_a_more_probable_transcript_than_greedy(close):
    # the best path is blank, blank (""; 0.2025), but "a" has a, a + a, blank + blank, a = 0.36
    logp = np.log(np.array([[0.45, 0.3, 0.25], [0.45, 0.3, 0.25]]))
    assert greedy_decode(logp) == []
    best, score = prefix_beam_search(logp, beam=2)[0]
    assert best == [1]
    close("score", score, math.log(0.36), 1e-12)


LABELS = ["<blank>", "a", "c", "o", "t", "d", "g", " "]


def frames_for(rows):
    """(T, C) log-probabilities from rows of {label: probability}, the rest spread evenly."""
    out = np.full((len(rows), len(LABELS)), 1e-3)
    for t, row in enumerate(rows):
        for label, p in row.items():
            out[t, LABELS.index(label)] = p
    return np.log(out / out.sum(axis=1, keepdims=True))


def spell(ids):
    return "".join(LABELS[k] for k in ids)


def test_lexicon_keeps_the_search_to_listed_words():
    # "cat" is the best path; "cot" is the best transcript made of listed words
    logp = frames_for([{"c": 0.9}, {"a": 0.5, "o": 0.4}, {"t": 0.9}, {" ": 0.9}, {"d": 0.9}, {"o": 0.9}, {"g": 0.9}])
    assert spell(greedy_decode(logp)) == "cat dog"
    assert spell(prefix_beam_search(logp, beam=8)[0][0]) == "cat dog"
    lex = Lexicon(["cot", "dog"], LABELS)
    nbest = prefix_beam_search(logp, beam=8, lexicon=lex)
    assert spell(nbest[0][0]) == "cot dog"
    assert all(w in ("cot", "dog") for labels, _ in nbest if lex.complete(labels) for w in spell(labels).split())
    assert prefix_beam_search(logp, 8, lexicon=Lexicon(["cat", "cot", "dog"], LABELS))[0] == prefix_beam_search(logp, 8)[0]


def test_word_level_lexicon():
    labels = ["<blank>", "one", "two", "three"]
    logp = np.log(np.array([[0.1, 0.45, 0.35, 0.1], [0.1, 0.1, 0.2, 0.6]]))
    assert prefix_beam_search(logp, 4, lexicon=Lexicon(["two", "three"], labels, "word"))[0][0] == [2, 3]


# ---------------------------------------------------------------------- connected digits
def fake_digits(n=200, seed=0):
    """Recordings shaped like spoken_digits: each digit a distinct 13-number pattern, 6-12 frames, noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((10, 13)) * 3
    out = []
    for i in range(n):
        d = i % 10
        T = int(rng.integers(6, 13))
        frames = patterns[d] * np.hanning(T + 2)[1:-1, None] + 0.3 * rng.standard_normal((T, 13))
        out.append((frames.astype(np.float32), str(d)))
    return out


def test_connect_digits_is_deterministic_and_uses_only_its_pool():
    recs = fake_digits(30)
    a = connect_digits(recs, 12, seed=[0, 1])
    b = connect_digits(recs, 12, seed=[0, 1])
    assert [t for _, t in a] == [t for _, t in b] and all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    assert all(2 <= len(t.split()) <= 7 for _, t in a)
    pool = {r[0].tobytes() for r in recs}
    for frames, text in a:            # every utterance is whole recordings of the pool, in transcript order
        at = 0
        for d in text.split():
            match = [r for r in recs if r[1] == d and np.array_equal(frames[at:at + len(r[0])], r[0])]
            assert match and match[0][0].tobytes() in pool
            at += len(match[0][0])
        assert at == len(frames)


@pytest.fixture
def digits(monkeypatch):
    monkeypatch.setattr(speech, "load_spoken_digits", lambda: fake_digits(200))


@pytest.fixture
def isolated_run(tmp_path_factory, digits, capsys):
    out = tmp_path_factory.mktemp("iso") / "run"
    rc, stdout, err = run_cli(["--threads", "1", "train", "speech", "--data", "spoken_digits", "--cell", "gru",
                               "--hidden", "16", "--layers", "1", "--epochs", "8", "--batch", "8", "--lr", "0.01", "--out", str(out),
                               "--quiet"], capsys)
    assert rc == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_isolated_digits_learn_and_report(isolated_run):
    _, m = isolated_run
    assert m["utterances"] == 20 and m["accuracy"] >= 0.9
    assert {"wer", "cer", "wer_beam4", "cer_beam4", "accuracy_beam4", "val_wer", "loss"} <= set(m)


def test_predict_npy_greedy_and_nbest(isolated_run, tmp_path, capsys, digits):
    out, _ = isolated_run
    recs = fake_digits(200)
    paths = []
    for i in (3, 7):
        paths.append(str(tmp_path / f"u{i}.npy"))
        np.save(paths[-1], recs[i][0])
    rc, stdout, err = run_cli(["predict", str(out), *paths], capsys)
    assert rc == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [r["input"] for r in rows] == paths and [r["transcript"] for r in rows] == ["3", "7"]
    rc, stdout, _ = run_cli(["predict", "--beam", "3", str(out), *paths], capsys)
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [r["transcript"] for r in rows] == ["3", "7"]
    for r in rows:
        assert r["nbest"][0] == {"transcript": r["transcript"], "score": r["score"]} and len(r["nbest"]) == 3
        assert [n["score"] for n in r["nbest"]] == sorted((n["score"] for n in r["nbest"]), reverse=True)


def test_evaluate_repeats_the_test_metrics(isolated_run, capsys, digits):
    out, m = isolated_run
    rc, stdout, err = run_cli(["evaluate", str(out)], capsys)
    assert rc == 0, err
    e = json.loads(stdout)
    assert e["split"] == "test" and abs(e["wer"] - m["wer"]) < 1e-12 and abs(e["wer_beam4"] - m["wer_beam4"]) < 1e-12


def test_connected_digits_train_and_hold_out_recordings(tmp_path, digits, capsys):
    out = tmp_path / "run"
    rc, stdout, err = run_cli(["--threads", "1", "train", "speech", "--data", "connected_digits", "--subsample", "2",
                               "--hidden", "16", "--layers", "1", "--epochs", "2", "--out", str(out), "--quiet"],
                              capsys)
    assert rc == 0, err
    m = json.loads(stdout.strip().splitlines()[-1])
    assert m["utterances"] == 20 and 0 <= m["cer"] and "wer_beam4" in m
    splits, _ = speech.load_splits("connected_digits", 0)
    used = {k: {r[0].tobytes() for r in u.recordings} for k, u in splits.items()}
    assert not used["train"] & used["test"] and not used["train"] & used["val"]


# ---------------------------------------------------------------------- speech folders and their errors
def npy_folder(tmp_path, n=30, lines=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    recs = fake_digits(n)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rows = []
    for i, (frames, d) in enumerate(recs):
        np.save(tmp_path / f"u{i}.npy", np.concatenate([frames, frames]))       # 12-24 frames for 3-5 letters
        rows.append(f"u{i}.npy\t{names[int(d)]}")
    (tmp_path / "transcripts.tsv").write_text("\n".join(lines or rows) + "\n", encoding="utf-8")
    return tmp_path


def test_npy_folder_trains_on_characters(tmp_path, capsys):
    folder = npy_folder(tmp_path / "d")
    rc, stdout, err = run_cli(["--threads", "1", "train", "speech", "--data", str(folder), "--hidden", "8",
                               "--layers", "1", "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"], capsys)
    assert rc == 0, err
    run = json.loads((tmp_path / "run" / "config.json").read_text())
    assert run["level"] == "char" and run["features"] == "given" and set(run["labels"][1:]) <= set("efghinorstuvwxz")


@pytest.mark.parametrize("line,fragment", [
    ("u0.npy zero", "transcripts.tsv:1: expected 'file<TAB>transcript'"),
    ("u0.npy\t  ", "transcripts.tsv:1: empty transcript for u0.npy"),
    ("missing.npy\tzero", "transcripts.tsv:1: "),
    ("bad.npy\tzero", "bad.npy: not a NumPy .npy array"),
    ("u0.npy\tzero one two three four five six", "needs at least"),
])
def test_bad_folder_is_one_line_error(tmp_path, capsys, line, fragment):
    folder = npy_folder(tmp_path / "d")
    (folder / "bad.npy").write_bytes(b"not an array")
    rows = (folder / "transcripts.tsv").read_text().splitlines()
    (folder / "transcripts.tsv").write_text("\n".join([line] + rows[1:]) + "\n")
    rc, _, err = run_cli(["train", "speech", "--data", str(folder), "--epochs", "1",
                          "--out", str(tmp_path / "run")], capsys)
    assert_one_line_error(rc, err, fragment)
    if "missing" in line:
        assert "missing.npy" in err


def test_evaluate_unseen_character_names_file_and_line(tmp_path, capsys):
    folder = npy_folder(tmp_path / "d")
    rc, _, err = run_cli(["--threads", "1", "train", "speech", "--data", str(folder), "--hidden", "8", "--layers",
                          "1", "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"], capsys)
    assert rc == 0, err
    other = npy_folder(tmp_path / "e", n=12)
    (other / "transcripts.tsv").write_text("u0.npy\tzero\nu1.npy\tquux\n")
    rc, _, err = run_cli(["evaluate", str(tmp_path / "run"), "--data", str(other)], capsys)
    assert_one_line_error(rc, err, "transcripts.tsv:2", "'q' never occurs in the training transcripts")


def test_lexicon_is_kept_with_the_model(tmp_path, capsys):
    folder = npy_folder(tmp_path / "d")
    (tmp_path / "words.txt").write_text("zero one two\nthree four five six seven eight nine\n")
    out = tmp_path / "run"
    rc, _, err = run_cli(["--threads", "1", "train", "speech", "--data", str(folder), "--hidden", "8", "--layers", "1",
                          "--epochs", "1", "--lexicon", str(tmp_path / "words.txt"), "--out", str(out), "--quiet"],
                         capsys)
    assert rc == 0, err
    assert json.loads((out / "config.json").read_text())["lexicon"][:3] == ["eight", "five", "four"]
    rc, stdout, err = run_cli(["predict", "--beam", "3", str(out), str(folder / "u0.npy")], capsys)
    assert rc == 0, err
    assert all(w in (tmp_path / "words.txt").read_text().split() for w in json.loads(stdout)["transcript"].split())
    rc, _, err = run_cli(["train", "speech", "--data", str(folder), "--lexicon", str(tmp_path / "none.txt"),
                          "--out", str(tmp_path / "r2")], capsys)
    assert_one_line_error(rc, err, "none.txt: cannot read the word list")


def test_speech_flags_belong_to_speech(tmp_path, capsys):
    rc, _, err = run_cli(["train", "classify", "--data", "order", "--subsample", "2"], capsys)
    assert_one_line_error(rc, err, "does not take --subsample")


def test_connected_digits_resumed_mid_epoch_match_an_uninterrupted_run(tmp_path, digits):
    """Every epoch draws new utterances: a run cut mid-epoch and resumed must draw the same ones."""
    from rnnlab.tasks import COMMON
    from rnnlab.train.checkpoint import load_arrays
    from rnnlab.train.loop import TrainConfig, Trainer

    s = {**COMMON, **speech.DEFAULTS, "task": "speech", "data": "connected_digits", "hidden": 8, "layers": 1,
         "batch": 16, "dropout": 0.2}
    cfg = TrainConfig(epochs=2, save_every=0, progress=False, patience=0, keep_resume=True)
    full = Trainer(speech.build(s), cfg, str(tmp_path / "full")).fit()
    task, calls = speech.build(s), [0]
    step = task.train_step

    def interrupted_step(*args):
        calls[0] += 1
        if calls[0] == 15:                           # epoch 2 has 10 steps: cut after its 4th
            raise KeyboardInterrupt
        return step(*args)

    task.train_step = interrupted_step
    with pytest.raises(KeyboardInterrupt):
        Trainer(task, cfg, str(tmp_path / "cut")).fit()
    resumed = Trainer(speech.build(s), cfg, str(tmp_path / "cut")).fit(resume=True)
    a, _ = load_arrays(str(tmp_path / "full" / "resume.safetensors"))
    b, _ = load_arrays(str(tmp_path / "cut" / "resume.safetensors"))
    for k in a:
        if k.startswith("model/"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    full.pop("train_seconds"), resumed.pop("train_seconds")
    assert resumed == full
