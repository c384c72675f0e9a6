"""`rnnlab train ... --backend torch`: the same run as the NumPy backend with the step in PyTorch."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import optim  # noqa: E402
from rnnlab.models import LanguageModel, LanguageModelConfig  # noqa: E402
from rnnlab.torch import to_torch  # noqa: E402
from rnnlab.torch.optim import TorchOptimizer  # noqa: E402
from rnnlab.train import TrainConfig  # noqa: E402
from rnnlab.train.loop import OPTIMIZERS  # noqa: E402

from conftest import assert_close, assert_one_line_error, run_cli  # noqa: E402
from helpers_torch import one_thread, run_without_torch, weights, write_reviews, write_text  # noqa: E402,F401


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_torch_optimizer_is_the_numpy_optimizer(name):
    """float64: K clipped steps of torch.optim and of rnnlab.optim agree, and so do their checkpoints."""
    cfg = TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01, clip=1.0)
    model = LanguageModel(LanguageModelConfig(vocab_size=6, cell="gru", embed=3, hidden=4, layers=1,
                                              dtype="float64", seed=0))
    model.frozen.add("embedding.weight")
    twin = to_torch(model)
    kw = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, **({"momentum": cfg.momentum} if name == "sgd" else {})}
    ref = OPTIMIZERS[name](model.params, **kw)
    ref.frozen = set(model.frozen)
    opt = TorchOptimizer(twin, model, cfg)
    rng = np.random.default_rng(1)
    named = dict(twin.named_parameters())

    def step(o, t_opt):
        grads = {k: rng.normal(size=v.shape) for k, v in model.params.items()}
        for k, p in named.items():
            p.grad = torch.tensor(grads[k])
        optim.clip_grad_norm_(grads, cfg.clip)
        o.step(grads)
        t_opt.step()

    for _ in range(4):
        step(ref, opt)
    for k, p in named.items():
        assert_close(k, p.detach().numpy(), ref.params[k], 1e-12)
    a_ref, m_ref = ref.state_dict()
    a_t, m_t = opt.state_dict()
    assert m_t == m_ref and a_t.keys() == a_ref.keys()
    for k in a_ref:
        assert_close(k, a_t[k], a_ref[k], 1e-12)
    # a fresh torch optimizer restored from the NumPy optimizer's checkpoint continues identically
    again = TorchOptimizer(twin, model, cfg)
    again.load_state_dict(a_ref, m_ref)
    assert again.state_dict()[1] == m_ref


def test_same_run_as_the_numpy_backend(tmp_path, capsys):
    """SGD, no dropout: both backends see the same batches in the same order and write the same files."""
    data = write_reviews(tmp_path)
    outs, _, _ = train_with_both_backends(
        ["train", "classify", "--data", data, "--cell", "lstm", "--hidden", "8", "--embed", "6", "--dropout", "0",
         "--optimizer", "sgd", "--lr", "0.1", "--epochs", "2", "--batch", "16", "--keep-resume", "--quiet", "--seed",
         "3"],
        tmp_path, capsys)
    assert json.load(open(os.path.join(outs["torch"], "args.json")))["backend"] == "torch"


def train_with_both_backends(base, tmp_path, capsys):
    """Run ``base`` with --backend numpy and torch: the same files, weights and losses -> outs, both resume files."""
    outs = {}
    for backend in ("numpy", "torch"):
        outs[backend] = str(tmp_path / backend)
        rc, stdout, err = run_cli(base + ["--out", outs[backend], "--backend", backend], capsys)
        assert rc == 0, err
    assert sorted(os.listdir(outs["numpy"])) == sorted(os.listdir(outs["torch"]))
    a, b = weights(os.path.join(outs["numpy"], "resume.safetensors")), weights(os.path.join(outs["torch"],
                                                                                            "resume.safetensors"))
    assert a.keys() == b.keys()
    for k in a:                               # float32 through two engines: rounding only
        assert_close(k, b[k], a[k], 1e-5)
    ha = [json.loads(x) for x in open(os.path.join(outs["numpy"], "metrics.jsonl"))]
    hb = [json.loads(x) for x in open(os.path.join(outs["torch"], "metrics.jsonl"))]
    assert [(x["epoch"], x["step"]) for x in ha] == [(x["epoch"], x["step"]) for x in hb]
    assert abs(ha[-1]["train_loss"] - hb[-1]["train_loss"]) < 1e-5
    return outs, a, hb


def test_interrupted_torch_run_resumes_to_the_same_weights(tmp_path, capsys, monkeypatch):
    """Dropout and a carried state: a torch run stopped mid-epoch and resumed equals one never stopped."""
    from rnnlab.tasks import charlm

    data = write_text(tmp_path)
    args = ["train", "charlm", "--data", data, "--hidden", "12", "--embed", "6", "--layers", "2", "--dropout", "0.3",
            "--batch", "8", "--bptt", "25", "--epochs", "2", "--save-every", "0", "--quiet", "--seed", "2",
            "--backend", "torch", "--keep-resume"]
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    assert run_cli(args + ["--out", full], capsys)[0] == 0
    steps = json.loads(open(os.path.join(full, "metrics.jsonl")).readline())["step"]     # per epoch
    real = charlm.CharLMTask.train_step
    calls = []

    def interrupted(self, *a):
        calls.append(1)
        if len(calls) == steps + 3:                 # three steps into the second epoch
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(charlm.CharLMTask, "train_step", interrupted)
    assert run_cli(args + ["--out", cut], capsys)[0] == 130
    monkeypatch.setattr(charlm.CharLMTask, "train_step", real)
    rc, stdout, err = run_cli(["train", "--resume", cut, "--quiet", "--keep-resume"], capsys)
    assert rc == 0, err
    a, b = weights(os.path.join(full, "resume.safetensors")), weights(os.path.join(cut, "resume.safetensors"))
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)
    final = json.load(open(os.path.join(full, "metrics.json")))
    resumed = json.loads(stdout.splitlines()[-1])
    final.pop("train_seconds"), resumed.pop("train_seconds")
    assert resumed == final


def test_torch_trained_runs_are_used_without_torch(tmp_path, capsys):
    """evaluate, generate and predict of torch-trained runs with the NumPy core alone."""
    lm, clf = str(tmp_path / "lm"), str(tmp_path / "clf")
    assert run_cli(["train", "charlm", "--data", write_text(tmp_path), "--hidden", "12", "--embed", "6", "--layers",
                    "1", "--batch", "4", "--bptt", "10", "--epochs", "1", "--quiet", "--backend", "torch",
                    "--out", lm], capsys)[0] == 0
    assert run_cli(["train", "classify", "--data", write_reviews(tmp_path), "--hidden", "8", "--embed", "6",
                    "--epochs", "1", "--quiet", "--backend", "torch", "--out", clf], capsys)[0] == 0
    r = run_without_torch(["evaluate", lm])
    assert r.returncode == 0, r.stderr
    assert "test_bpc" in json.loads(r.stdout)
    r = run_without_torch(["generate", lm, "--prime", "First", "--length", "20", "--seed", "1"])
    assert r.returncode == 0 and r.stdout.startswith("First"), r.stderr
    r = run_without_torch(["predict", clf, "superb movie", "dull movie"])
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["label"] in ("pos", "neg") for x in r.stdout.splitlines()] == [True, True]


def test_bad_backend_and_device(tmp_path, capsys):
    data = write_reviews(tmp_path, n=40)
    base = ["train", "classify", "--data", data, "--epochs", "1", "--quiet", "--out", str(tmp_path / "x")]
    r = run_without_torch(base + ["--backend", "torch"])
    assert_one_line_error(r.returncode, r.stderr, "--backend torch", "pip install 'rnnlab[torch]'")
    rc, _, err = run_cli(base + ["--device", "cuda"], capsys)
    assert_one_line_error(rc, err, "--device cuda", "--backend torch")
    if not torch.cuda.is_available():
        rc, _, err = run_cli(base + ["--backend", "torch", "--device", "cuda"], capsys)
        assert_one_line_error(rc, err, "--device cuda", "no CUDA device")
    rc, _, err = run_cli(base + ["--backend", "torch", "--device", "tpu"], capsys)
    assert_one_line_error(rc, err, "--device")


def test_unshared_twin_syncs_like_a_gpu_run(tmp_path, capsys):
    """The GPU path on the CPU: a twin that copies the weights (pulled before each evaluation and
    save, pushed after a resume) trains to the files of the twin that shares the NumPy arrays."""
    from rnnlab.tasks import COMMON, task_module
    from rnnlab.torch.train import TorchTrainer

    data = write_reviews(tmp_path)
    mod = task_module("classify")
    s = {**COMMON, **mod.DEFAULTS, "task": "classify", "data": data, "hidden": 8, "embed": 6, "dropout": 0.2,
         "epochs": 3, "patience": 0, "backend": "torch", "lr": 0.02}
    results = {}
    for share in (True, False):
        cfg = TrainConfig(epochs=3, lr=0.02, patience=0, progress=False, save_every=0)
        out = str(tmp_path / f"share{share}")
        results[share] = TorchTrainer(mod.build(s), cfg, out, share=share).fit()
        results[share].pop("train_seconds")
    assert results[True] == results[False]
    a, b = (weights(str(tmp_path / f"share{x}" / "model.safetensors")) for x in (True, False))
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)


def test_speech_run_equals_the_numpy_backend_and_is_used_without_torch(tmp_path, capsys):
    """CTC through F.ctc_loss: the same files and weights as the NumPy backend; evaluate and predict without torch."""
    from rnnlab.data.speech import load_spoken_digits

    outs, resume, history = train_with_both_backends(
        ["train", "speech", "--data", "spoken_digits", "--limit", "60", "--cell", "gru", "--hidden", "8", "--layers",
         "1", "--subsample", "2", "--dropout", "0", "--optimizer", "sgd", "--lr", "0.1", "--epochs", "2", "--batch",
         "16", "--keep-resume", "--quiet", "--seed", "3"], tmp_path, capsys)
    assert "model/norm.std" in resume and history[-1]["step"] >= 6
    final = json.load(open(os.path.join(outs["torch"], "metrics.json")))
    r = run_without_torch(["evaluate", outs["torch"]])
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(r.stdout)["loss"] - final["loss"]) < 1e-9
    frames = str(tmp_path / "digit.npy")
    np.save(frames, load_spoken_digits()[0][0])
    r = run_without_torch(["predict", "--beam", "2", outs["torch"], frames])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["input"] == frames
    rc, stdout, err = run_cli(["export", outs["torch"], "--format", "onnx", "--out", str(tmp_path / "m.onnx")], capsys)
    assert rc == 0, err
    assert json.loads(stdout)["max_abs_diff_vs_numpy"]["m.onnx"] <= 1e-5


def test_doc2vec_run_equals_the_numpy_backend_and_exports(tmp_path, capsys):
    """--pretrained doc2vec: the dense layers train in torch to the NumPy backend's files; the frozen arrays ride along."""
    pytest.importorskip("gensim")
    from rnnlab.tasks.base import load_run
    from rnnlab.tasks.classify import _inputs, _restore
    from rnnlab.torch import load

    outs, resume, history = train_with_both_backends(
        ["--threads", "1", "train", "classify", "--data", "order", "--limit", "150", "--cell", "bag", "--pretrained",
         "doc2vec", "--embed", "8", "--hidden", "6", "--dropout", "0", "--optimizer", "sgd", "--lr", "0.1", "--epochs",
         "2", "--batch", "16", "--keep-resume", "--quiet", "--seed", "3"], tmp_path, capsys)
    assert "model/doc2vec.words" in resume and history[-1]["step"] >= 8
    final = json.load(open(os.path.join(outs["torch"], "metrics.json")))
    rc, stdout, err = run_cli(["evaluate", outs["torch"]], capsys)
    assert rc == 0, err
    assert abs(json.loads(stdout)["loss"] - final["loss"]) < 1e-9
    twin_file = str(tmp_path / "twin.safetensors")
    rc, stdout, err = run_cli(["export", outs["torch"], "--format", "torch", "--out", twin_file], capsys)
    assert rc == 0, err
    run, model = load_run(outs["torch"])
    twin = load(twin_file).eval()
    for k, p in twin.state_dict().items():
        assert_close(k, p.numpy(), model.params[k], 0.0)
    tok, vocab, _ = _restore(run)
    vectors = _inputs(run, model, vocab, tok, ["Bob is stronger than Tom", "Tom is taller than Bob"])
    with torch.no_grad():
        assert_close("logits", twin(vectors).numpy(), model.forward(vectors)[0], 1e-6)
    rc, stdout, err = run_cli(["export", outs["torch"], "--format", "onnx", "--out", str(tmp_path / "m.onnx")], capsys)
    assert rc == 0, err
    assert json.loads(stdout)["max_abs_diff_vs_numpy"]["m.onnx"] <= 1e-5
