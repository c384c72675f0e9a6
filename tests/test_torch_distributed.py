"""torchrun: 2 processes (gloo, localhost) train to the weights of 1 process on the same global batches."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

import torchrun_worker  # noqa: E402
from conftest import assert_one_line_error, run_cli  # noqa: E402
from helpers_torch import one_thread, weights, write_reviews, write_text  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args, nproc=2):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port())] + args
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_two_ranks_equal_one_process(tmp_path):
    """numpy backend: float64 to 1e-10; torch backend (DistributedDataParallel): 1e-6."""
    text, csv = write_text(tmp_path), write_reviews(tmp_path, 60)
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    worker = os.path.join(HERE, "torchrun_worker.py")
    for backend in ("numpy", "torch"):                       # the single-process reference, in this process
        torchrun_worker.run("charlm", backend, text, one)
        torchrun_worker.run("classify", backend, csv, one)
        torchrun_worker.run("speech", backend, "spoken_digits", one)
    r = torchrun([worker, two, text, csv])
    assert r.returncode == 0, r.stderr[-3000:]
    for run, tol in (("charlm-numpy", 1e-10), ("classify-numpy", 1e-10), ("speech-numpy", 1e-10),
                     ("charlm-torch", 1e-6), ("classify-torch", 1e-6), ("speech-torch", 1e-6)):
        a, b = weights(os.path.join(one, run, "resume.safetensors")), weights(os.path.join(two, run, "resume.safetensors"))
        steps = json.loads(open(os.path.join(two, run, "metrics.jsonl")).readline())["step"]
        assert steps >= 4, (run, steps)
        assert a.keys() == b.keys()
        for k in a:
            if k.startswith(("model/", "carry/")):
                diff = float(np.max(np.abs(a[k] - b[k])))
                assert diff <= tol, f"{run} {k}: max abs diff {diff:.3e} > {tol:.0e}"
        assert sorted(os.listdir(os.path.join(one, run))) == sorted(os.listdir(os.path.join(two, run)))
    # the command line under torchrun: rank 0 alone prints the final metrics and writes the run's files
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and "accuracy" in json.loads(lines[0]), r.stdout
    assert sorted(os.listdir(os.path.join(two, "cli"))) == ["args.json", "config.json", "metrics.json",
                                                           "metrics.jsonl", "model.safetensors"]   # resume: removed


def test_python_dash_m_rnnlab():
    r = subprocess.run([sys.executable, "-m", "rnnlab", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("rnnlab ")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_global_batch_not_divisible_and_max_time(tmp_path, capsys, monkeypatch, backend):
    """Checked before any process group is formed (as on every rank of a torchrun job)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    base = ["train", "classify", "--data", write_reviews(tmp_path, 30), "--epochs", "1", "--quiet", "--backend",
            backend, "--out", str(tmp_path / "x")]
    rc, _, err = run_cli(base + ["--batch", "7"], capsys)
    assert_one_line_error(rc, err, "--batch 7 is not divisible by the 2 processes torchrun started")
    rc, _, err = run_cli(base + ["--batch", "8", "--max-time", "5"], capsys)
    assert_one_line_error(rc, err, "--max-time is not supported under torchrun")
    assert not os.path.exists(tmp_path / "x")          # rank 1 writes nothing


def _shard_cases():
    from rnnlab.models import (Captioner, CaptionerConfig, ClassifierConfig, DocVectorClassifier, DocVectorConfig,
                               LanguageModel, LanguageModelConfig, PianoRollConfig, PianoRollModel, Seq2Seq,
                               Seq2SeqConfig, SequenceClassifier, SequenceTagger, TaggerConfig)
    from rnnlab.models.speech import SpeechConfig, SpeechRecognizer
    from rnnlab.models.tagger import make_batch

    rng = np.random.default_rng(0)

    def ragged(V, lengths, low=1):
        ids = rng.integers(low, V, (len(lengths), max(lengths)))
        ids[np.arange(max(lengths))[None, :] >= np.array(lengths)[:, None]] = 0
        return ids

    lm = LanguageModel(LanguageModelConfig(vocab_size=9, embed=3, hidden=4, dtype="float64"))
    targets = rng.integers(0, 9, (4, 5))
    targets[3, 1:] = -100                                  # a melody's padding: rows with fewer terms
    s = lm.rnn.zero_state(4)
    yield "lm", lm, (rng.integers(0, 9, (4, 5)), targets, tuple(a + 0.3 for a in s))
    clf = SequenceClassifier(ClassifierConfig(vocab_size=9, num_classes=3, embed=3, hidden=4, dtype="float64"))
    lengths = np.array([5, 1, 2, 4, 3])                    # 5 rows on 2 ranks: shares of 2 and 3
    yield "classifier", clf, (ragged(9, lengths), lengths, rng.integers(0, 3, 5))
    tagger = SequenceTagger(TaggerConfig(vocab_size=9, num_tags=4, char_vocab_size=6, char_embed=2, embed=3,
                                         hidden=4, crf=True), dtype=np.float64)
    lens = [6, 1, 2, 3]
    yield "tagger", tagger, (make_batch([list(rng.integers(1, 9, n)) for n in lens],
                                        [list(rng.integers(0, 4, n)) for n in lens],
                                        [[list(rng.integers(1, 6, 3)) for _ in range(n)] for n in lens]),)
    s2s = Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=7, embed=3, hidden=4, bidirectional_encoder=True,
                                dtype="float64"))
    src_len = np.array([4, 2, 5, 1])
    tgt = ragged(7, [6, 1, 2, 3])
    yield "seq2seq", s2s, (ragged(9, src_len), src_len, tgt, np.roll(tgt, -1, axis=1))
    roll = PianoRollModel(PianoRollConfig(pitches=5, hidden=4, dtype="float64"))
    yield "piano roll", roll, ((rng.random((4, 6, 5)) < 0.3).astype(np.float64), np.array([6, 1, 2, 3]))
    cap = Captioner(CaptionerConfig(feature_dim=4, vocab_size=8, embed=3, hidden=4, dtype="float64"))
    tgt = ragged(8, [5, 1, 3, 2], low=4)
    yield "captioner", cap, (rng.normal(size=(4, 4)), tgt, tgt)
    asr = SpeechRecognizer(SpeechConfig(num_features=3, num_labels=5, hidden=4, subsample=2, dtype="float64"))
    lengths = np.array([9, 2, 6, 5, 3])                    # the mean is over utterances, whatever their lengths
    yield "speech", asr, (rng.normal(size=(5, 9, 3)), lengths, [[1, 2, 2, 3], [4], [], [2, 3], [1]])
    doc = DocVectorClassifier(DocVectorConfig(num_classes=3, vector_size=4, vocab_size=6, hidden=5, dtype="float64"))
    yield "doc vectors", doc, (rng.normal(size=(5, 4)), np.array([3, 1, 2, 6, 4]), rng.integers(0, 3, 5))


@pytest.mark.parametrize("case", list(_shard_cases()), ids=lambda c: c[0])
def test_weighted_shares_sum_to_the_global_gradient(case):
    """However unequal the shares' tokens, frames or sentences: sum_r (n_r / N) grad_r == grad (float64)."""
    from rnnlab.torch.distributed import Group, bind

    _, model, args = case
    full = model.loss_and_grads(*args, training=False)
    call = bind(model.loss_and_grads, args, {})
    total_loss, total = 0.0, {k: 0.0 for k in full[1]}
    for rank in range(2):
        sub, weight = Group(2, rank).shard(type(model).__name__, model.config, call)
        part = model.loss_and_grads(**sub, training=False)
        total_loss += weight * part[0]
        for k in total:
            total[k] = total[k] + weight * part[1][k]
    assert abs(total_loss - full[0]) < 1e-10
    for k, g in full[1].items():
        diff = float(np.max(np.abs(total[k] - g)))
        assert diff < 1e-10, f"{k}: max abs diff {diff:.3e}"


_DYING = """
import os, sys
from rnnlab.cli import main
if os.environ["RANK"] == "1":                      # this rank dies at its third step
    from rnnlab.tasks import classify
    real, calls = classify.ClassifyTask.train_step, []
    def dying(self, *a):
        calls.append(1)
        if len(calls) == 3:
            os._exit(1)
        return real(self, *a)
    classify.ClassifyTask.train_step = dying
sys.exit(main(sys.argv[1:]))
"""


def test_a_rank_that_dies_ends_the_run_with_one_line(tmp_path):
    from rnnlab.train.checkpoint import load_arrays

    csv, out = write_reviews(tmp_path, 60), str(tmp_path / "run")
    port = free_port()
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank)}
        procs.append(subprocess.Popen([sys.executable, "-c", _DYING, "train", "classify", "--data", csv, "--hidden",
                                       "6", "--embed", "4", "--epochs", "2", "--batch", "8", "--save-every", "0",
                                       "--quiet", "--out", out], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    _, err = procs[0].communicate(timeout=600)
    procs[1].communicate(timeout=60)
    assert procs[1].returncode == 1
    lines = err.strip().splitlines()
    assert procs[0].returncode == 2 and len(lines) == 1, err
    assert lines[0].startswith("rnnlab: error: another torchrun process stopped"), err
    arrays, meta = load_arrays(os.path.join(out, "resume.safetensors"))      # the last checkpoint is intact
    assert meta["trainer"]["global_step"] == 2
