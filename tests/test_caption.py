"""The image captioner: gradients (finite differences and PyTorch), decoding, and `rnnlab train caption`."""
import itertools
import json
import os

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.gradcheck import check_grads
from rnnlab.models.captioner import Captioner, CaptionerConfig
from rnnlab.tasks import caption

CELLS = ("lstm", "gru", "rnn")
INITS = ("state", "input", "both")

# a padded batch of three captions: <pad>=0, <bos>=2, <eos>=3, words 4..8
TGT_IN = np.array([[2, 4, 5, 6, 0], [2, 7, 8, 0, 0], [2, 4, 4, 4, 8]])
TGT_OUT = np.array([[4, 5, 6, 3, 0], [7, 8, 3, 0, 0], [4, 4, 4, 8, 3]])


def small_model(cell="lstm", init="both", dtype="float64", pca=4, layers=2, dropout=0.0, vocab=9, seed=1):
    m = Captioner(CaptionerConfig(feature_dim=10, vocab_size=vocab, cell=cell, embed=5, hidden=6, layers=layers,
                                  dropout=dropout, init=init, pca=pca, dtype=dtype, seed=seed))
    rng = np.random.default_rng(seed)
    if pca:
        m.set_projection(rng.standard_normal(10), rng.standard_normal((pca, 10)), rng.random(pca) + 0.5)
    return m, rng.standard_normal((3, 10))


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("cell,init", list(itertools.product(CELLS, INITS)))
def test_grads_match_finite_differences(cell, init):
    m, x = small_model(cell, init)
    _, grads = m.loss_and_grads(x, TGT_IN, TGT_OUT)
    assert set(grads) == set(m.params) - m.frozen and not any(k.startswith("pca.") for k in grads)
    trained = {k: v for k, v in m.params.items() if k not in m.frozen}
    check_grads(lambda: m.loss(x, TGT_IN, TGT_OUT), trained, grads)


def test_grads_with_dropout_match_finite_differences():
    m, x = small_model("lstm", "both", dropout=0.3)

    def loss():   # the same dropout masks on every call
        return m.loss_and_grads(x, TGT_IN, TGT_OUT, training=True, rng=np.random.default_rng(7))

    _, grads = loss()
    check_grads(lambda: loss()[0], {k: v for k, v in m.params.items() if k not in m.frozen}, grads)


def torch_loss(torch, m, x, tgt_in, tgt_out):
    """The captioning loss built from torch.nn.LSTM/GRU/RNN and F.linear on the model's own arrays."""
    F = torch.nn.functional
    c = m.config
    P = {k: torch.tensor(v, requires_grad=k not in m.frozen) for k, v in m.params.items()}
    p = F.linear(torch.tensor(x), P["pca.weight"], P["pca.bias"]) if c.pca else torch.tensor(x)   # (B, P)
    B, L, H = x.shape[0], c.layers, c.hidden

    def initial(name):                                                      # (L, B, H)
        return torch.tanh(F.linear(p, P[f"{name}.weight"], P[f"{name}.bias"])).reshape(B, L, H).transpose(0, 1)

    state = None
    if c.init in ("state", "both"):
        state = (initial("init_h"), initial("init_c")) if c.cell == "lstm" else initial("init_h")
    e = F.embedding(torch.tensor(tgt_in), P["embedding.weight"], padding_idx=c.pad_id)   # (B, T, E)
    if c.init in ("input", "both"):
        u = torch.tanh(F.linear(p, P["feat_in.weight"], P["feat_in.bias"]))               # (B, E)
        e = torch.cat([e, u[:, None, :].expand(-1, e.shape[1], -1)], dim=-1)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[c.cell]
    rnn = cls(e.shape[-1], H, L, batch_first=True, dtype=torch.float64)
    weights = {k[len("rnn."):]: v for k, v in P.items() if k.startswith("rnn.")}
    h, _ = torch.func.functional_call(rnn, weights, (e, state))
    logits = F.linear(h, P["head.weight"], P["head.bias"])
    loss = F.cross_entropy(logits.reshape(-1, c.vocab_size), torch.tensor(tgt_out).reshape(-1),
                           ignore_index=c.pad_id)
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in P.items() if v.requires_grad}


@pytest.mark.parametrize("cell,init", list(itertools.product(CELLS, INITS)))
def test_loss_and_grads_match_torch(cell, init, close):
    torch = pytest.importorskip("torch")
    m, x = small_model(cell, init)
    loss, grads = m.loss_and_grads(x, TGT_IN, TGT_OUT)
    want_loss, want = torch_loss(torch, m, x, TGT_IN, TGT_OUT)
    close("loss", loss, want_loss, 1e-12)
    assert set(grads) == set(want)
    for name in want:
        close(name, grads[name], want[name], 1e-10)


def test_no_pca_and_one_layer_match_torch(close):
    torch = pytest.importorskip("torch")
    m, x = small_model("lstm", "both", pca=0, layers=1)
    loss, grads = m.loss_and_grads(x, TGT_IN, TGT_OUT)
    want_loss, want = torch_loss(torch, m, x, TGT_IN, TGT_OUT)
    close("loss", loss, want_loss, 1e-12)
    for name in want:
        close(name, grads[name], want[name], 1e-10)


def test_pca_is_frozen_and_projects():
    m, x = small_model(pca=3)
    mean, comp, scale = np.ones(10), np.arange(30.0).reshape(3, 10), np.array([1.0, 2.0, 4.0])
    m.set_projection(mean, comp, scale)
    p, _ = m.modules["pca"].forward(x)
    np.testing.assert_allclose(p, ((x - mean) @ comp.T) / scale, rtol=1e-12)
    assert m.frozen == {"pca.weight", "pca.bias"}


# ---------------------------------------------------------------------- decoding
@pytest.mark.parametrize("cell,init", [("lstm", "both"), ("gru", "state"), ("rnn", "input")])
def test_beam_of_one_is_greedy(cell, init):
    m, _ = small_model(cell, init, dtype="float32", vocab=12, seed=3)
    x = np.random.default_rng(4).standard_normal((20, 10)).astype(np.float32) * 3
    greedy = m.greedy(x, max_len=7)
    assert m.beam_search(x, beam=1, max_len=7) == greedy
    assert m.beam_search(x, beam=1, max_len=7, length_penalty=0.6) == greedy
    assert all(len(g) <= 7 and m.config.eos_id not in g for g in greedy)


def sequence_logprob(m, x, seq):
    state, u = m.start(x)
    total, last = 0.0, m.config.bos_id
    for tok in seq:
        logp, state = m.step(np.array([last]), state, u)
        total += logp[0, tok]
        last = tok
    return total


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_best_caption_by_brute_force(alpha):
    m, _ = small_model("lstm", "both", vocab=6, seed=5)
    x = np.random.default_rng(6).standard_normal((1, 10))
    eos, max_len = m.config.eos_id, 3
    best, best_score = None, -np.inf
    for n in range(1, max_len + 1):                 # every caption: ends with <eos> or is cut at max_len
        for seq in itertools.product(range(6), repeat=n):
            if eos in seq[:-1] or (n < max_len and seq[-1] != eos):
                continue
            score = sequence_logprob(m, x, seq) / ((5.0 + n) / 6.0) ** alpha
            if score > best_score:
                best, best_score = [t for t in seq if t != eos], score
    assert m.beam_search(x, beam=6 ** max_len, max_len=max_len, length_penalty=alpha) == [best]


def test_decoding_rejects_bad_arguments():
    m, x = small_model()
    with pytest.raises(ValueError, match="beam"):
        m.beam_search(x, beam=0)
    with pytest.raises(ValueError, match="max_len"):
        m.greedy(x, max_len=0)
    with pytest.raises(ValueError, match="features"):
        m.greedy(np.zeros((2, 7)))


# ---------------------------------------------------------------------- data
def test_caption_tokens():
    assert caption.caption_tokens("Man Mage: medium-dark skin tone") == ["man", "mage", "medium-dark", "skin", "tone"]
    assert caption.caption_tokens("St. Kitts & Nevis") == ["st", "kitts", "nevis"]
    assert caption.caption_tokens("A button (blood type)") == ["a", "button", "blood", "type"]
    assert caption.caption_tokens("Côte d’Ivoire") == ["côte", "d’ivoire"]


def test_load_image_converts_modes_and_sizes(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from rnnlab.data.twemoji import png_to_array

    rgba = np.zeros((72, 72, 4), dtype=np.uint8)
    rgba[:36] = (255, 0, 0, 255)                    # opaque red top, transparent bottom
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = caption.load_image(str(tmp_path / "a.png"), 24)
    np.testing.assert_array_equal(got, png_to_array((tmp_path / "a.png").read_bytes(), 24))   # training features
    Image.fromarray(rgba, "RGBA").convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgba[:, :50, :3]).convert("L").save(tmp_path / "l.jpg")
    Image.fromarray(np.full((10, 10), 65535 // 2, dtype=np.uint16)).save(tmp_path / "g16.png")
    for name in ("p.png", "l.jpg", "g16.png"):
        a = caption.load_image(str(tmp_path / name), 24)
        assert a.shape == (24, 24, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1, name
    assert abs(float(caption.load_image(str(tmp_path / "g16.png"), 24).mean()) - 0.5) < 0.01   # not clipped
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(caption.DataError, match="bad.png"):
        caption.load_image(str(tmp_path / "bad.png"), 24)


SIZES, COLORS, SHAPES = ("small", "big"), {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220)}, \
    ("square", "circle", "bar")


def draw(size, color, shape, rng):
    """A 20x20 RGBA picture of one shape on a transparent background, jittered."""
    yy, xx = np.mgrid[:20, :20]
    r = (4 if size == "small" else 8) + rng.integers(0, 2)
    cy, cx = 10 + rng.integers(-1, 2), 10 + rng.integers(-1, 2)
    if shape == "square":
        mask = (abs(yy - cy) < r) & (abs(xx - cx) < r)
    elif shape == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        mask = (abs(yy - cy) < 2) & (abs(xx - cx) < r + 1)
    img = np.zeros((20, 20, 4), dtype=np.uint8)
    img[mask] = (*COLORS[color], 255)
    return img


@pytest.fixture
def caption_folder(tmp_path):
    """108 images of 18 kinds ('a big red circle'), saved in different modes, and their captions.tsv."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    folder = tmp_path / "shapes"
    folder.mkdir()
    lines = []
    kinds = list(itertools.product(SIZES, COLORS, SHAPES)) * 6
    for i, (size, color, shape) in enumerate(kinds):
        im = Image.fromarray(draw(size, color, shape, rng), "RGBA")
        name = f"img{i:03d}.png"
        (im.convert("RGB") if i % 3 == 1 else im).save(folder / name)
        lines.append(f"{name}\tA {size.capitalize()} {color} {shape}!")
    (folder / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_train_predict_evaluate_on_a_caption_folder(caption_folder, tmp_path, capsys):
    pytest.importorskip("sacrebleu")
    out = str(tmp_path / "run")
    rc = main(["train", "caption", "--data", str(caption_folder), "--hidden", "48", "--embed", "16", "--batch", "8",
               "--epochs", "12", "--lr", "0.01", "--out", out, "--quiet"])
    stdout, _ = capsys.readouterr()
    assert rc == 0
    final = json.loads(stdout.strip().splitlines()[-1])
    assert {"bleu", "exact_match", "loss", "val_bleu", "bleu_beam4", "exact_match_beam4"} <= set(final)
    run = json.load(open(os.path.join(out, "config.json")))
    assert run["model"] == "Captioner" and run["split_sizes"] == [86, 11, 11]

    # it captions its training images
    settings = json.load(open(os.path.join(out, "args.json")))
    names, captions, _ = caption.load_examples(str(caption_folder), 24)
    train = caption.split(list(range(len(names))), (0.8, 0.1, 0.1), seed=settings["seed"])[0]
    paths = [str(caption_folder / names[i]) for i in train]
    assert main(["predict", out, *paths]) == 0
    got = [json.loads(line) for line in capsys.readouterr()[0].splitlines()]
    assert [g["image"] for g in got] == paths
    refs = [" ".join(caption.caption_tokens(captions[i])) for i in train]
    assert np.mean([g["caption"] == r for g, r in zip(got, refs)]) >= 0.9

    # beam 1 is greedy; beam 3 gives a caption too
    assert main(["predict", out, paths[0], "--beam", "1"]) == 0
    assert json.loads(capsys.readouterr()[0]) == got[0]
    assert main(["predict", out, paths[0], "--beam", "3"]) == 0
    assert json.loads(capsys.readouterr()[0])["caption"]

    # held-out metrics, and the whole folder as user data
    assert main(["evaluate", out]) == 0
    held_out = json.loads(capsys.readouterr()[0])
    assert held_out["bleu"] == pytest.approx(final["bleu"]) and held_out["examples"] == 11
    assert main(["evaluate", out, "--data", str(caption_folder)]) == 0
    everything = json.loads(capsys.readouterr()[0])
    assert everything["examples"] == 108 and everything["bleu"] > 80


def test_predict_bad_image_is_one_line_error(caption_folder, tmp_path, capsys):
    pytest.importorskip("sacrebleu")
    out = str(tmp_path / "run")
    assert main(["train", "caption", "--data", str(caption_folder), "--hidden", "8", "--embed", "4",
                 "--epochs", "1", "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    for path in (str(bad), str(tmp_path / "missing.png")):
        assert main(["predict", out, path]) == 2
        stdout, err = capsys.readouterr()
        assert stdout == "" and err.startswith("rnnlab: error: ") and path in err and len(err.splitlines()) == 1
    good = tmp_path / "good.png"
    pytest.importorskip("PIL.Image").new("L", (30, 30), 128).save(good)
    assert main(["predict", out, str(good), "--beam", "0"]) == 2
    assert "--beam" in capsys.readouterr()[1]


def test_bad_caption_folder_is_one_line_error(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "captions.tsv").write_text("a.png a dog without a tab\n", encoding="utf-8")
    assert main(["train", "caption", "--data", str(folder), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr()[1]
    assert "captions.tsv:1" in err and len(err.splitlines()) == 1


def test_pca_is_fitted_on_the_training_split_only(caption_folder):
    s = {**caption.DEFAULTS, "data": str(caption_folder), "seed": 0, "pca": 8, "hidden": 8, "embed": 4}
    task = caption.build(s)
    x = task.features[task.splits["train"]]
    pca = task.model.modules["pca"].params
    np.testing.assert_allclose(pca["weight"] @ x.mean(axis=0) + pca["bias"], 0.0, atol=1e-4)   # centred on train
    p = x @ pca["weight"].T + pca["bias"]
    var = p.var(axis=0, ddof=1)
    assert abs(var.mean() - 1.0) < 1e-3 and np.all(np.diff(var) <= 1e-4)     # unit on average, largest first
    assert task.model.config.pca == 8 and {"pca.weight", "pca.bias"} <= task.model.frozen
