"""The audio path end to end on real waveforms: espeak-ng speaks digit strings in several voices."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="needs Debian's espeak-ng to make the recordings (apt-get install espeak-ng)")
pytest.importorskip("soundfile")
pytest.importorskip("librosa")

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland"]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A folder of 24 .wav files (22.05 kHz) and 4 .flac files (8 kHz) with transcripts.tsv."""
    import soundfile

    folder = tmp_path_factory.mktemp("spoken")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(28):
        text = " ".join(WORDS[d] for d in rng.integers(0, 10, size=int(rng.integers(1, 4))))
        wav = folder / f"u{i:02d}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[i % len(VOICES)], "-s", "150", "-w", str(wav), text], check=True,
                       capture_output=True)
        name = wav.name
        if i >= 24:            # another format and sample rate
            samples, rate = soundfile.read(wav)
            name = f"u{i:02d}.flac"
            t8k = np.arange(int(len(samples) * 8000 / rate)) / 8000
            soundfile.write(folder / name, np.interp(t8k, np.arange(len(samples)) / rate, samples), 8000)
            wav.unlink()
        rows.append(f"{name}\t{text}")
    (folder / "transcripts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_train_predict_evaluate_on_spoken_digits(spoken, tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = run_cli(["--threads", "1", "train", "speech", "--data", str(spoken), "--subsample", "3",
                               "--hidden", "16", "--layers", "1", "--batch", "4", "--epochs", "3", "--lr", "0.01",
                               "--out", str(out), "--quiet"], capsys)
    assert rc == 0, err
    run = json.loads((out / "config.json").read_text())
    assert run["features"] == "mfcc" and run["level"] == "char" and run["config"]["num_features"] == 13
    assert set(run["labels"][1:]) == set("".join(WORDS) + " ")
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert (out / "features.npz").exists()                     # the features are cached next to the run

    files = [str(spoken / "u00.wav"), str(spoken / "u25.flac")]
    rc, stdout, err = run_cli(["predict", "--beam", "2", str(out), *files], capsys)
    assert rc == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [r["input"] for r in rows] == files
    assert all(set(r["transcript"]) <= set(run["labels"]) and len(r["nbest"]) <= 2 for r in rows)

    rc, stdout, err = run_cli(["evaluate", str(out), "--data", str(spoken)], capsys)
    assert rc == 0, err
    m = json.loads(stdout)
    assert m["utterances"] == 28 and m["split"] == "data" and 0 <= m["cer"]


def test_unreadable_or_missing_audio_is_one_line_error(spoken, tmp_path, capsys):
    folder = tmp_path / "d"
    shutil.copytree(spoken, folder)
    (folder / "u01.wav").write_bytes(b"RIFF nonsense")
    rc, _, err = run_cli(["train", "speech", "--data", str(folder), "--out", str(tmp_path / "r")], capsys)
    assert_one_line_error(rc, err, "transcripts.tsv:2", "u01.wav: not a readable audio file")
    (folder / "u01.wav").unlink()
    rc, _, err = run_cli(["train", "speech", "--data", str(folder), "--out", str(tmp_path / "r")], capsys)
    assert_one_line_error(rc, err, "transcripts.tsv:2", "u01.wav: cannot read the audio file")
