"""music: PianoRollModel gradients (PyTorch float64, finite differences), sampling, melody tokens,
and the task end to end on tiny synthetic chorales (train, evaluate, generate MIDI, bad files)."""
import argparse
import json
import math
import os

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.gradcheck import check_grads
from rnnlab.models.music import PianoRollConfig, PianoRollModel, shift_frames
from rnnlab.tasks import music as task

from conftest import assert_close


def make_model(cell="lstm", P=7, hidden=5, layers=1, dropout=0.0, seed=0):
    return PianoRollModel(PianoRollConfig(P, cell=cell, hidden=hidden, layers=layers, dropout=dropout,
                                          dtype="float64", seed=seed))


def make_rolls(rng, B=3, T=6, P=7, lengths=(6, 4, 1)):
    """Right-padded multi-hot frames (B, T, P); the padding holds garbage notes that must not count."""
    frames = (rng.random((B, T, P)) < 0.4).astype(np.float64)
    return frames, np.array(lengths)


def synthetic_chorales(n=12, seed=0):
    """Four-voice chords moving by small steps: lengths 10..20 quarters, MIDI 45..76."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        voices = np.array([48, 55, 60, 67]) + rng.integers(-2, 3, size=4)
        frames = []
        for _ in range(int(rng.integers(10, 21))):
            voices = np.clip(voices + rng.integers(-2, 3, size=4), [45, 50, 55, 62], [55, 62, 67, 76])
            frames.append(sorted({int(v) for v in voices}))
        soprano = [[f[-1], float(rng.choice([0.5, 1.0, 1.0, 2.0]))] for f in frames]
        out.append({"name": f"syn{i}", "frames": frames, "soprano": soprano})
    return out


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("lstm", 2), ("gru", 1)])
def test_loss_and_grads_match_torch(cell, layers):
    torch = pytest.importorskip("torch")
    model = make_model(cell, layers=layers)
    frames, lengths = make_rolls(np.random.default_rng(1))
    loss, grads = model.loss_and_grads(frames, lengths)

    c = model.config
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        c.pitches, c.hidden, num_layers=layers, batch_first=True).double()
    head = torch.nn.Linear(c.hidden, c.pitches).double()
    for prefix, mod in (("rnn", rnn), ("head", head)):
        mod.load_state_dict({k.split(".", 1)[1]: torch.from_numpy(v.copy()) for k, v in model.params.items()
                             if k.startswith(prefix + ".")})
    # right padding never reaches earlier outputs, so the padded batch needs no packing
    h, _ = rnn(torch.from_numpy(shift_frames(frames)))
    logits = head(h)
    per_frame = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.from_numpy(frames), reduction="none").sum(-1)               # (B, T)
    mask = torch.from_numpy((np.arange(frames.shape[1])[None] < lengths[:, None]).astype(np.float64))
    ref = (per_frame * mask).sum() / mask.sum()
    ref.backward()
    assert_close("loss", loss, ref.item(), 1e-12)
    named = {**{f"rnn.{k}": p for k, p in rnn.named_parameters()},
             **{f"head.{k}": p for k, p in head.named_parameters()}}
    assert set(named) == set(grads)
    for name, p in named.items():
        assert_close(f"d{name}", grads[name], p.grad.numpy(), 1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_grads_match_finite_differences(cell):
    model = make_model(cell, layers=2, dropout=0.3)
    frames, lengths = make_rolls(np.random.default_rng(2))

    def loss_fn():
        return model.loss_and_grads(frames, lengths, training=True, rng=np.random.default_rng(7))[0]

    _, grads = model.loss_and_grads(frames, lengths, training=True, rng=np.random.default_rng(7))
    errors = check_grads(loss_fn, model.params, grads)
    assert max(errors.values()) < 1e-5, errors


def test_frame_stats_are_padding_invariant():
    """Summed NLL of a padded batch = sum over its chorales alone = loss * frames; ACC counts agree."""
    model = make_model("gru")
    frames, lengths = make_rolls(np.random.default_rng(3))
    whole = model.frame_stats(frames, lengths)
    parts = [model.frame_stats(frames[i:i + 1, :n], None) for i, n in enumerate(lengths)]
    assert whole["frames"] == lengths.sum() == sum(p["frames"] for p in parts)
    assert_close("nll", whole["nll"], sum(p["nll"] for p in parts), 1e-12)
    for k in ("tp", "fp", "fn"):
        assert whole[k] == sum(p[k] for p in parts)
    loss, _ = model.loss_and_grads(frames, lengths, training=False)
    assert_close("loss * frames", loss * whole["frames"], whole["nll"], 1e-12)


def test_sample_is_binary_seeded_and_primed():
    model = make_model("lstm")
    prime = (np.random.default_rng(4).random((3, 7)) < 0.5).astype(np.float64)
    a = model.sample(10, prime, temperature=1.0, seed=5)
    assert a.shape == (10, 7) and set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, model.sample(10, prime, temperature=1.0, seed=5))
    greedy = model.sample(6, None, temperature=0)
    # greedy: the first frame is on exactly where the unprimed logits are positive
    logits, _, _ = model.forward(np.zeros((1, 1, 7)))
    assert np.array_equal(greedy[0], (logits[0, 0] > 0).astype(np.float64))
    with pytest.raises(ValueError, match="temperature"):
        model.sample(3, temperature=-1)


# ---------------------------------------------------------------------- melody tokens
def test_melody_tokens_round_trip():
    line = [(72, 1.0), (None, 0.5), (71, 0.25), (69, 0.125), (68, 0.125), (67, 2.0)]
    labels = task.melody_tokens(line)
    # two 32nds on a 16th grid: the first, rounded, takes the whole 16th; the second is dropped
    assert labels == [72, "hold", "hold", "hold", "rest", "hold", 71, 69, 67] + ["hold"] * 7
    assert task.melody_notes(labels) == [(72, 1.0), (None, 0.5), (71, 0.25), (69, 0.25), (67, 2.0)]
    vocab = task.MelodyVocab(60, 80)
    ids = vocab.encode(labels)
    assert vocab.decode(ids) == [str(x) if isinstance(x, int) else x for x in labels]
    with pytest.raises(ValueError, match="outside the model's range"):
        vocab.encode([90])


# ---------------------------------------------------------------------- the task end to end
@pytest.fixture
def chorale_file(tmp_path):
    path = tmp_path / "chorales.json"
    path.write_text(json.dumps(synthetic_chorales()), encoding="utf-8")
    return str(path)


def train_args(data, out, **kw):
    flags = ["train", "music", "--data", data, "--out", out, "--quiet", "--epochs", "2", "--hidden", "8",
             "--batch", "4", "--seed", "0"]
    for k, v in kw.items():
        flags += [f"--{k}", str(v)]
    return flags


def test_train_evaluate_generate_pianoroll(chorale_file, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(train_args(chorale_file, out, cell="gru")) == 0
    final = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert final["epochs_run"] == 2
    # 12 chorales -> 10/1/1; an untrained model's NLL per frame is about P * log 2
    assert math.isfinite(final["test_nll"]) and 0 < final["test_nll"] < 40 * math.log(2)
    assert 0 <= final["test_acc"] <= 1
    run = json.load(open(os.path.join(out, "config.json")))
    assert run["model"] == "PianoRollModel" and run["mode"] == "pianoroll" and run["split"] == [10, 1, 1]
    assert run["pitches"] == run["config"]["pitches"] == max(
        p for c in synthetic_chorales() for f in c["frames"] for p in f) - run["lowest"] + 1

    assert main(["evaluate", out]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["chorales"] == 1
    assert_close("evaluate test_nll", ev["test_nll"], final["test_nll"], 1e-9)

    music21 = pytest.importorskip("music21")
    midi = str(tmp_path / "gen" / "new.mid")
    assert main(["generate", out, "--length", "12", "--seed", "1", "--prime", "0", "--output", midi]) == 0
    summary = capsys.readouterr().out
    assert midi in summary and "held-out test chorale 0" in summary
    assert os.path.exists(midi[:-4] + ".musicxml")
    notes = music21.converter.parse(midi).flatten().notes
    assert len(notes) > 0
    # a MIDI file we wrote is itself a valid --prime
    again = str(tmp_path / "again.mid")
    assert main(["generate", out, "--length", "4", "--seed", "1", "--prime", midi, "--output", again]) == 0
    assert f"the opening of {midi}" in capsys.readouterr().out


def test_train_and_generate_melody(chorale_file, tmp_path, capsys):
    from rnnlab import tasks

    out = str(tmp_path / "melody")
    args = argparse.Namespace(task="music", mode="melody", data=chorale_file, out=out, resume=None, quiet=True,
                              epochs=2, hidden=8, embed=4, batch=4, seed=0)
    final = tasks.train(args)
    assert math.isfinite(final["test_nll"]) and 0 <= final["test_acc"] <= 1
    run = json.load(open(os.path.join(out, "config.json")))
    assert run["model"] == "LanguageModel" and run["mode"] == "melody" and run["vocab"][:3] == task.SPECIALS

    music21 = pytest.importorskip("music21")
    midi = str(tmp_path / "melody.mid")
    assert main(["generate", out, "--length", "8", "--seed", "3", "--prime", "syn0", "--output", midi]) == 0
    assert "syn0" in capsys.readouterr().out
    parts = music21.converter.parse(midi).parts
    assert len(parts) == 1 and len(parts[0].flatten().notesAndRests) > 0


def test_bad_prime_file_is_one_line_error(chorale_file, tmp_path, capsys):
    pytest.importorskip("music21")
    out = str(tmp_path / "run")
    assert main(train_args(chorale_file, out, epochs=1)) == 0
    capsys.readouterr()
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06 this is not a midi file")
    assert main(["generate", out, "--prime", str(bad), "--output", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab: error:") and str(bad) in err and "\n" not in err


def test_bad_data_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "chorales.json"
    bad.write_text(json.dumps([{"name": "x", "frames": [[60, 64], [200]]}]), encoding="utf-8")
    assert main(train_args(str(bad), str(tmp_path / "run"))) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "frame 1" in err and "\n" not in err
