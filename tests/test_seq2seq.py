"""Encoder-decoder: gradients vs PyTorch float64 and finite differences, decoding, learning, bad input."""
import itertools

import numpy as np
import pytest

from rnnlab.gradcheck import check_grads
from rnnlab.losses import cross_entropy, log_softmax
from rnnlab.models.beam import beam_search, length_penalty
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig

from conftest import assert_close

torch = pytest.importorskip("torch")

from test_attention import torch_attention  # noqa: E402

PAD, BOS, EOS = 0, 1, 2
TORCH_CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def make_model(cell="lstm", attention="luong", bidir=False, layers=2, score="general", dropout=0.0, seed=0,
               src_vocab=11, tgt_vocab=9, embed=5, hidden=6):
    return Seq2Seq(Seq2SeqConfig(src_vocab, tgt_vocab, cell=cell, embed=embed, hidden=hidden, layers=layers,
                                 bidirectional_encoder=bidir, attention=attention, luong_score=score,
                                 dropout=dropout, dtype="float64", seed=seed))


def make_batch(model, rng, B=4, S=7, T=6):
    """Padded source with garbage (non-pad) ids past each length, targets padded with PAD."""
    c = model.config
    src = rng.integers(3, c.src_vocab, size=(B, S))
    src_lengths = rng.integers(1, S + 1, size=B)
    src_lengths[0] = S
    tgt_lengths = rng.integers(1, T + 1, size=B)
    tgt_in = rng.integers(3, c.tgt_vocab, size=(B, T))
    tgt_in[:, 0] = BOS
    tgt_out = np.full((B, T), PAD)
    for b, n in enumerate(tgt_lengths):
        tgt_out[b, :n - 1] = tgt_in[b, 1:n]
        tgt_out[b, n - 1] = EOS
        tgt_in[b, n:] = PAD
    return src, src_lengths, tgt_in, tgt_out, tgt_out != PAD


# ---------------------------------------------------------------------- PyTorch reference
def _load(module, ours, prefix):
    module.load_state_dict({k[len(prefix) + 1:]: torch.from_numpy(v.copy()) for k, v in ours.params.items()
                            if k.startswith(prefix + ".")})
    return module


def torch_loss_and_grads(model, src, src_lengths, tgt_in, tgt_out, tgt_mask):
    """The same model built from torch.nn modules (float64) with our weights; loss and every gradient."""
    c = model.config
    H, L, V = c.hidden, c.layers, c.tgt_vocab
    Rnn = TORCH_CELLS[c.cell]
    mods = {
        "src_embedding": torch.nn.Embedding(c.src_vocab, c.embed, padding_idx=c.pad_id),
        "encoder": Rnn(c.embed, H, num_layers=L, bidirectional=c.bidirectional_encoder, batch_first=True),
        "tgt_embedding": torch.nn.Embedding(c.tgt_vocab, c.embed, padding_idx=c.pad_id),
        "decoder": Rnn(c.embed, H, num_layers=L, batch_first=True),
        "head": torch.nn.Linear(H, V),
    }
    for name in model.bridges:
        mods[name] = torch.nn.Linear(2 * H, H)
    if model.attention is not None:
        mods["combine"] = torch.nn.Linear(model.combine.in_features, H, bias=False)
    for name, m in mods.items():
        _load(m.double(), model, name)
    att = {k.split(".", 1)[1]: torch.tensor(v, requires_grad=True) for k, v in model.params.items()
           if k.startswith("attention.")}

    S = src.shape[1]
    e = mods["src_embedding"](torch.as_tensor(src))
    packed = torch.nn.utils.rnn.pack_padded_sequence(e, torch.as_tensor(src_lengths), batch_first=True,
                                                     enforce_sorted=False)
    out, fin = mods["encoder"](packed)
    keys, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)
    if c.bidirectional_encoder:       # fin[2l] forward, fin[2l+1] backward final of layer l
        def bridge(name, s):
            return torch.tanh(mods[name](torch.cat([s[0::2], s[1::2]], dim=-1)))
        fin = (bridge("bridge_h", fin[0]), bridge("bridge_c", fin[1])) if c.cell == "lstm" \
            else bridge("bridge_h", fin)
    h, _ = mods["decoder"](mods["tgt_embedding"](torch.as_tensor(tgt_in)), fin)
    if model.attention is not None:
        mask = torch.as_tensor(np.arange(S)[None, :] < np.asarray(src_lengths)[:, None])
        ctx, _ = torch_attention(h, keys, mask, att, model.attention.kind)
        h = torch.tanh(mods["combine"](torch.cat([ctx, h], dim=-1)))
    logits = mods["head"](h)
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.as_tensor(tgt_out).reshape(-1),
                                            reduction="none")
    w = torch.as_tensor(tgt_mask, dtype=torch.float64).reshape(-1)
    loss = (nll * w).sum() / w.sum()
    loss.backward()
    grads = {f"{name}.{k}": p.grad.numpy() for name, m in mods.items() for k, p in m.named_parameters()}
    grads.update({f"attention.{k}": p.grad.numpy() for k, p in att.items()})
    return float(loss.detach()), grads


GRAD_CASES = [(cell, att, score, bidir)
              for cell, (att, score), bidir in itertools.product(
                  ["lstm", "gru", "rnn"],
                  [("none", "general"), ("luong", "general"), ("luong", "dot"), ("bahdanau", "general")],
                  [False, True])
              if not (score == "dot" and att == "luong" and bidir)]


@pytest.mark.parametrize("cell,attention,score,bidir", GRAD_CASES)
def test_gradients_match_torch(cell, attention, score, bidir):
    seed = GRAD_CASES.index((cell, attention, score, bidir))
    model = make_model(cell, attention, bidir, layers=2, score=score, seed=seed)
    batch = make_batch(model, np.random.default_rng(seed))
    loss, grads = model.loss_and_grads(*batch)
    ref_loss, ref_grads = torch_loss_and_grads(model, *batch)
    assert abs(loss - ref_loss) <= 1e-10, f"loss {loss} != torch {ref_loss}"
    assert list(grads) == list(model.params)
    assert sorted(ref_grads) == sorted(grads)
    for name in model.params:
        assert_close(name, grads[name], ref_grads[name], 1e-8)


@pytest.mark.parametrize("cell,attention,bidir,dropout", [
    ("lstm", "luong", True, 0.0), ("gru", "bahdanau", False, 0.3), ("lstm", "none", False, 0.3),
    ("lstm", "bahdanau", True, 0.3)])
def test_finite_differences(cell, attention, bidir, dropout):
    """Central differences along random directions, with a dropout mask fixed by reseeding."""
    model = make_model(cell, attention, bidir, layers=2, dropout=dropout, seed=3)
    src, src_lengths, tgt_in, tgt_out, tgt_mask = make_batch(model, np.random.default_rng(4))

    def forward():
        return model.forward(src, src_lengths, tgt_in, training=True, rng=np.random.default_rng(5))

    def loss_fn():
        return cross_entropy(forward()[0], tgt_out, mask=tgt_mask)[0]

    _, grads = model.loss_and_grads(src, src_lengths, tgt_in, tgt_out, tgt_mask, rng=np.random.default_rng(5))
    check_grads(loss_fn, model.params, grads, n_directions=2)


def test_forward_shapes_and_padding():
    model = make_model("gru", "luong", True)
    src, src_lengths, tgt_in, _, _ = make_batch(model, np.random.default_rng(0))
    logits, weights, _ = model.forward(src, src_lengths, tgt_in)
    B, S = src.shape
    T = tgt_in.shape[1]
    assert logits.shape == (B, T, model.config.tgt_vocab) and weights.shape == (B, T, S)
    assert_close("weights sum", weights.sum(-1), np.ones((B, T)), 1e-12)
    pad = np.arange(S)[None, :] >= src_lengths[:, None]
    assert np.all(weights.transpose(0, 2, 1)[pad] == 0)
    # what sits past a source's length never matters
    src2 = np.where(pad, 7, src)
    assert_close("logits with other padding", model.forward(src2, src_lengths, tgt_in)[0], logits, 0)
    assert model.forward(src, src_lengths, tgt_in, training=False)[1] is not None
    assert make_model(attention="none").forward(src, src_lengths, tgt_in)[1] is None


# ---------------------------------------------------------------------- decoding
def _sources(rng, n=5, S=6, V=11):
    src = rng.integers(3, V, size=(n, S))
    lengths = rng.integers(1, S + 1, size=n)
    return src, lengths


def _teacher_forced_logprob(model, src_row, tokens):
    tgt_in = np.array([[BOS] + tokens[:-1]])
    logits, _, _ = model.forward(src_row[None, :], None, tgt_in)
    logp = log_softmax(logits[0])
    return float(sum(logp[t, tok] for t, tok in enumerate(tokens)))


@pytest.mark.parametrize("attention,cell,alpha", [("luong", "lstm", 0.0), ("bahdanau", "gru", 1.0),
                                                  ("none", "lstm", 0.6), ("luong", "gru", 2.0)])
def test_beam_of_one_is_greedy(attention, cell, alpha):
    model = make_model(cell, attention, bidir=True, seed=11)
    src, lengths = _sources(np.random.default_rng(1))
    ids, attn = model.greedy_decode(src, lengths, BOS, EOS, max_len=12)
    results = beam_search(model, src, lengths, beam=1, bos=BOS, eos=EOS, max_len=12, length_penalty=alpha)
    for b, (hyps, g) in enumerate(zip(results, ids)):
        assert len(hyps) == 1 and hyps[0].tokens == g, f"source {b}: beam {hyps[0].tokens} != greedy {g}"
        if attention == "none":
            assert attn[b] is None and hyps[0].attention is None
        else:
            assert attn[b].shape == (len(g), lengths[b])
            assert_close(f"attention[{b}]", hyps[0].attention, attn[b], 1e-12)   # batch vs alone: round-off


@pytest.mark.parametrize("seed", range(4))
def test_beam_scores_at_least_greedy(seed):
    model = make_model("lstm", "luong", bidir=seed % 2 == 1, seed=seed, tgt_vocab=7)
    src, lengths = _sources(np.random.default_rng(seed + 10))
    greedy = beam_search(model, src, lengths, beam=1, bos=BOS, eos=EOS, max_len=10)
    wide = beam_search(model, src, lengths, beam=5, bos=BOS, eos=EOS, max_len=10, n_best=5)
    for b in range(len(src)):
        g, best = greedy[b][0], wide[b][0]
        assert best.logprob >= g.logprob - 1e-12, f"source {b}: beam {best.logprob} < greedy {g.logprob}"
        scores = [h.score for h in wide[b]]
        assert scores == sorted(scores, reverse=True)
        # a hypothesis' log-probability is the teacher-forced likelihood of its tokens
        for h in wide[b]:
            want = _teacher_forced_logprob(model, src[b, :lengths[b]], h.tokens)
            assert abs(h.logprob - want) <= 1e-10, f"source {b} {h.tokens}: {h.logprob} != {want}"


def test_length_penalty_ranks_finished_hypotheses():
    model = make_model("gru", "bahdanau", seed=2, tgt_vocab=7)
    src, _ = _sources(np.random.default_rng(0), n=1)
    for alpha in (0.0, 0.6, 1.5):
        hyps = beam_search(model, src[0], beam=4, bos=BOS, eos=EOS, max_len=8, length_penalty=alpha, n_best=4)
        for h in hyps:
            assert abs(h.score - h.logprob / ((5 + len(h.tokens)) / 6) ** alpha) <= 1e-12
            assert h.score == h.logprob / length_penalty(len(h.tokens), alpha)
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_decoding_stops_at_eos():
    model = make_model("lstm", "luong", seed=5)
    src, lengths = _sources(np.random.default_rng(3))
    ids, _ = model.greedy_decode(src, lengths, BOS, EOS, max_len=9)
    hyps = beam_search(model, src, lengths, beam=3, bos=BOS, eos=EOS, max_len=9, n_best=3)
    for seq in ids + [h.tokens for hs in hyps for h in hs]:
        assert 1 <= len(seq) <= 9 and EOS not in seq[:-1]
    for hs in hyps:
        for h in hs:
            assert h.finished == (h.tokens[-1] == EOS)
    model.params["head.bias"][EOS] += 100.0       # now eos is always the best next token
    ids, attn = model.greedy_decode(src, lengths, BOS, EOS, max_len=9)
    assert ids == [[EOS]] * len(src) and all(a.shape == (1, n) for a, n in zip(attn, lengths))
    assert [hs[0].tokens for hs in beam_search(model, src, lengths, beam=3, bos=BOS, eos=EOS)] == [[EOS]] * len(src)


@pytest.mark.parametrize("attention,bidir", [("luong", True), ("bahdanau", False), ("none", True)])
def test_padded_batch_equals_each_alone(attention, bidir):
    model = make_model("lstm", attention, bidir=bidir, seed=8)
    src, lengths = _sources(np.random.default_rng(4), n=6)
    ids, attn = model.greedy_decode(src, lengths, BOS, EOS, max_len=10)
    beams = beam_search(model, src, lengths, beam=3, bos=BOS, eos=EOS, max_len=10, n_best=2)
    for b in range(len(src)):
        one = src[b:b + 1, :lengths[b]]
        ids1, attn1 = model.greedy_decode(one, None, BOS, EOS, max_len=10)
        assert ids1[0] == ids[b], f"source {b}: alone {ids1[0]} != in batch {ids[b]}"
        if attention != "none":
            assert_close(f"attention[{b}]", attn[b], attn1[0], 1e-12)
        alone = beam_search(model, one[0], beam=3, bos=BOS, eos=EOS, max_len=10, n_best=2)
        assert [h.tokens for h in alone] == [h.tokens for h in beams[b]]


# ---------------------------------------------------------------------- learning
def _reverse_batch(rng, B, V=13):
    """Digits 3..V-1 of length 3-6; the target is the reversed source followed by eos."""
    lens = rng.integers(3, 7, size=B)
    S = int(lens.max())
    src = np.zeros((B, S), np.int64)
    tgt_in = np.zeros((B, S + 1), np.int64)
    tgt_out = np.zeros((B, S + 1), np.int64)
    for b, n in enumerate(lens):
        x = rng.integers(3, V, size=n)
        src[b, :n] = x
        tgt_in[b, 0], tgt_in[b, 1:n + 1] = BOS, x[::-1]
        tgt_out[b, :n], tgt_out[b, n] = x[::-1], EOS
    return src, lens, tgt_in, tgt_out


def test_learns_to_reverse_digits():
    from rnnlab.optim import Adam

    model = Seq2Seq(Seq2SeqConfig(13, 13, cell="lstm", embed=16, hidden=32, attention="luong", seed=0))
    opt = Adam(model.params, lr=0.02)
    rng = np.random.default_rng(0)
    for _ in range(300):
        src, lens, tgt_in, tgt_out = _reverse_batch(rng, 32)
        loss, grads = model.loss_and_grads(src, lens, tgt_in, tgt_out)
        opt.step(grads)
    src, lens, _, _ = _reverse_batch(np.random.default_rng(99), 200)
    ids, _ = model.greedy_decode(src, lens, BOS, EOS, max_len=8)
    acc = np.mean([ids[b] == list(src[b, :lens[b]][::-1]) + [EOS] for b in range(len(src))])
    assert acc >= 0.9, f"exact-match accuracy {acc:.3f} after 300 steps (last loss {loss:.3f})"


# ---------------------------------------------------------------------- bad input
def _bad_calls():
    m = make_model("lstm", "luong")
    src = np.array([[3, 4, 5], [6, 7, 0]])
    lens = np.array([3, 2])
    tin = np.array([[1, 3], [1, 4]])
    tout = np.array([[3, 2], [4, 2]])
    return [
        (lambda: m.forward(src[0], lens, tin), r"src must be a 2-D array of token ids"),
        (lambda: m.forward(src + 20, lens, tin), r"src contains id 27, expected ids in \[0, 11\)"),
        (lambda: m.forward(src - 1, lens, tin), r"src contains id -1"),
        (lambda: m.forward(src.astype(float), lens, tin), r"src must hold integer token ids"),
        (lambda: m.forward(src, lens, tin[:1]), r"tgt_in must have 2 rows"),
        (lambda: m.forward(src, lens, tin + 9), r"tgt_in contains id 13, expected ids in \[0, 9\)"),
        (lambda: m.forward(src, [3], tin), r"lengths must have shape \(2,\)"),
        (lambda: m.forward(src, [4, 2], tin), r"exceeds the padded length T = 3"),
        (lambda: m.loss_and_grads(src, lens, tin, tout[:, :1]), r"tgt_out must have shape \(2, 2\)"),
        (lambda: m.loss_and_grads(src, lens, tin, tout, tgt_mask=np.ones(2)), r"tgt_mask must have shape"),
        (lambda: m.backward(np.zeros((2, 2, 5)), m.forward(src, lens, tin)[2]), r"dlogits must have shape \(2, 2, 9\)"),
        (lambda: m.greedy_decode(src, lens, bos=9, eos=EOS), r"bos must be a target id in \[0, 9\)"),
        (lambda: m.greedy_decode(src, lens, BOS, EOS, max_len=0), r"max_len must be a positive integer"),
        (lambda: beam_search(m, src, lens, bos=BOS, eos=EOS, beam=0), r"beam must be a positive integer"),
        (lambda: beam_search(m, src, lens, bos=BOS, eos=EOS, beam=2, n_best=3),
         r"n_best must be an integer in \[1, beam=2\]"),
        (lambda: beam_search(m, src, lens, bos=BOS, eos=EOS, length_penalty=-1), r"length_penalty \(alpha\) must be"),
        (lambda: beam_search(m, src[0], lens, bos=BOS, eos=EOS), r"src_lengths is for a padded batch"),
        (lambda: make_model(attention="dot"), r"attention must be one of"),
        (lambda: make_model(score="cosine"), r"luong_score must be one of"),
        (lambda: make_model(cell="tcn"), r"cell must be one of"),
        (lambda: make_model(bidir=True, score="dot"), r"luong_score='dot' needs encoder outputs of size hidden"),
        (lambda: Seq2Seq(Seq2SeqConfig(5, 5, dtype="float16")), r"dtype must be 'float32' or 'float64'"),
    ]


@pytest.mark.parametrize("i", range(len(_bad_calls())))
def test_bad_input(i):
    call, match = _bad_calls()[i]
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)
