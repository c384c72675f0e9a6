"""The sequence tagger: its whole loss and every gradient against torch autograd (float64) and
finite differences, padding invariance, BIO-constrained decoding, and the tag task's helpers."""
import numpy as np
import pytest

from rnnlab.gradcheck import check_grads
from rnnlab.models.tagger import SequenceTagger, TaggerConfig, is_bio, make_batch
from rnnlab.tasks.tag import bio_entities, dedupe, pieces, split_sentences, tokenize

from conftest import assert_close

BIO = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]


def tiny(crf=False, char_embed=0, cell="lstm", layers=1, dropout=0.0, bidirectional=True, seed=0):
    cfg = TaggerConfig(vocab_size=12, num_tags=len(BIO), char_vocab_size=8 if char_embed else 0,
                       char_embed=char_embed, cell=cell, embed=5, hidden=4, layers=layers,
                       bidirectional=bidirectional, dropout=dropout, crf=crf, seed=seed)
    return SequenceTagger(cfg, dtype=np.float64)


def random_batch(lengths, char_embed, seed=0):
    """(id lists, tag lists, char lists or None) of random sentences of the given lengths."""
    rng = np.random.default_rng(seed)
    ids = [rng.integers(1, 12, n).tolist() for n in lengths]
    tags = [rng.integers(0, len(BIO), n).tolist() for n in lengths]
    chars = [[rng.integers(1, 8, rng.integers(1, 6)).tolist() for _ in range(n)] for n in lengths] \
        if char_embed else None
    return ids, tags, chars


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("char_embed", [0, 3])
@pytest.mark.parametrize("cell,layers,dropout", [("lstm", 1, 0.0), ("gru", 2, 0.3)])
def test_whole_loss_by_finite_differences(crf, char_embed, cell, layers, dropout):
    model = tiny(crf, char_embed, cell, layers, dropout)
    batch = make_batch(*random_batch([5, 2, 4], char_embed, seed=1))
    rng = np.random.default_rng(7)
    saved = rng.bit_generator.state

    def run():   # the same dropout masks on every call
        rng.bit_generator.state = saved
        return model.loss_and_grads(batch, training=True, rng=rng)

    loss, grads = run()
    assert list(grads) == list(model.params)
    assert any("crf." in k for k in grads) == crf and any("char_rnn." in k for k in grads) == bool(char_embed)
    check_grads(lambda: run()[0], model.params, grads)


def torch_loss(model, batch):
    """The same tagger written with torch.nn.LSTM on packed sequences; -> (loss, {name: grad})."""
    torch = pytest.importorskip("torch")
    from torch.func import functional_call
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    c = model.config
    P = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}

    def lstm(prefix, inp, lengths, hidden, layers, total_length=None):
        net = torch.nn.LSTM(inp.shape[2], hidden, layers, batch_first=True, bidirectional=True, dtype=torch.float64)
        weights = {k[len(prefix):]: v for k, v in P.items() if k.startswith(prefix)}
        packed = pack_padded_sequence(inp, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = functional_call(net, weights, (packed,))
        return pad_packed_sequence(out, batch_first=True, total_length=total_length)[0], h_n

    B, T = batch.ids.shape
    x = P["embedding.weight"][torch.tensor(batch.ids)]                                # (B, T, E)
    valid = np.arange(T)[None, :] < batch.lengths[:, None]                            # (B, T)
    if c.char_embed:
        rows = np.flatnonzero(valid.reshape(-1))
        cl = batch.char_lengths.reshape(-1)[rows]
        ce = P["char_embedding.weight"][torch.tensor(batch.chars.reshape(B * T, -1)[rows, :cl.max()])]
        _, h_n = lstm("char_rnn.", ce, cl.tolist(), c.char_embed, 1)                  # (2, N, C)
        feats = torch.zeros(B * T, 2 * c.char_embed, dtype=torch.float64)
        feats = feats.index_copy(0, torch.tensor(rows), torch.cat([h_n[0], h_n[1]], dim=1))
        x = torch.cat([x, feats.reshape(B, T, -1)], dim=2)
    y, _ = lstm("rnn.", x, batch.lengths.tolist(), c.hidden, c.layers, total_length=T)
    s = y @ P["head.weight"].T + P["head.bias"]                                        # (B, T, K)
    tags = torch.tensor(batch.tags)
    if not c.crf:
        loss = torch.nn.functional.cross_entropy(s[torch.tensor(valid)], tags[torch.tensor(valid)])
    else:   # sum over sentences of log Z - score(gold), straight from the definition, / tokens
        start, end, trans = P["crf.start_transitions"], P["crf.end_transitions"], P["crf.transitions"]
        total = 0
        for b, L in enumerate(batch.lengths):
            e, g = s[b, :L], tags[b, :L]
            alpha = start + e[0]
            for t in range(1, L):
                alpha = torch.logsumexp(alpha[:, None] + trans, dim=0) + e[t]
            gold = start[g[0]] + e[torch.arange(L), g].sum() + trans[g[:-1], g[1:]].sum() + end[g[-1]]
            total = total + torch.logsumexp(alpha + end, dim=0) - gold
        loss = total / int(batch.lengths.sum())
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in P.items()}


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("char_embed", [0, 3])
def test_loss_and_every_gradient_match_torch(crf, char_embed):
    model = tiny(crf, char_embed, layers=2)
    batch = make_batch(*random_batch([6, 1, 3, 6], char_embed, seed=2))
    loss, grads = model.loss_and_grads(batch, training=False)
    want_loss, want = torch_loss(model, batch)
    assert abs(loss - want_loss) < 1e-12, (loss, want_loss)
    for name in model.params:
        assert_close(name, grads[name], want[name], 1e-12)


# ---------------------------------------------------------------------- padding and decoding
@pytest.mark.parametrize("crf,char_embed,bidirectional", [(False, 0, True), (True, 3, True), (True, 3, False)])
def test_padded_batch_equals_each_sentence_alone(crf, char_embed, bidirectional):
    model = tiny(crf, char_embed, layers=2, bidirectional=bidirectional, seed=3)
    ids, tags, chars = random_batch([7, 2, 5, 1], char_embed, seed=4)
    batch = make_batch(ids, tags, chars)
    scores, _ = model.forward(batch.ids, batch.lengths, batch.chars, batch.char_lengths)
    paths = model.decode(batch.ids, batch.lengths, batch.chars, batch.char_lengths, labels=BIO)
    for b in range(len(ids)):
        one = make_batch(ids[b:b + 1], tags[b:b + 1], None if chars is None else chars[b:b + 1])
        s1, _ = model.forward(one.ids, one.lengths, one.chars, one.char_lengths)
        assert_close(f"scores of sentence {b}", scores[b, :len(ids[b])], s1[0], 1e-12)
        assert paths[b] == model.decode(one.ids, one.lengths, one.chars, one.char_lengths, labels=BIO)[0]
        assert len(paths[b]) == len(ids[b])
    # the per-token loss of the batch is the token-weighted mean of the sentences' losses
    loss, _ = model.loss_and_grads(batch, training=False)
    alone = [model.loss_and_grads(make_batch(ids[b:b + 1], tags[b:b + 1],
                                             None if chars is None else chars[b:b + 1]), training=False)[0]
             for b in range(len(ids))]
    assert abs(loss - np.dot(alone, [len(x) for x in ids]) / sum(len(x) for x in ids)) < 1e-12


def test_crf_decode_keeps_bio_valid():
    model = tiny(crf=True, seed=5)
    model.params["crf.transitions"][...] = 0.0
    model.params["crf.transitions"][BIO.index("O"), BIO.index("I-PER")] = 50.0   # tempts O -> I-PER
    ids, _, _ = random_batch([6, 3, 8], 0, seed=6)
    batch = make_batch(ids)
    for path in model.decode(batch.ids, batch.lengths, labels=BIO):
        names = ["O"] + [BIO[t] for t in path]
        for prev, tag in zip(names[:-1], names[1:]):
            assert not tag.startswith("I-") or prev[2:] == tag[2:], names
    unconstrained = model.decode(batch.ids, batch.lengths)
    assert any(BIO[a] == "O" and BIO[b] == "I-PER" for p in unconstrained for a, b in zip(p[:-1], p[1:]))


def test_config_and_batch_errors():
    with pytest.raises(ValueError, match="char_vocab_size"):
        SequenceTagger(TaggerConfig(vocab_size=5, num_tags=3, char_embed=4))
    model = tiny(char_embed=3)
    b = make_batch([[1, 2]])
    with pytest.raises(ValueError, match="chars"):
        model.forward(b.ids, b.lengths)
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        make_batch([[1, 2]], [[0]])
    with pytest.raises(ValueError, match="tags"):
        model.loss_and_grads(make_batch([[1, 2]], None, [[[1], [2]]]))


# ---------------------------------------------------------------------- task helpers
def test_bio_entities_match_seqeval():
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    rng = np.random.default_rng(0)
    assert bio_entities(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-PER"]) == \
        [("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("PER", 6, 7)]
    for _ in range(300):
        tags = [BIO[i] for i in rng.integers(0, len(BIO), rng.integers(1, 12))]
        want = [(kind, a, b + 1) for kind, a, b in seqeval.get_entities(tags)]
        assert sorted(bio_entities(tags)) == sorted(want), tags


def test_is_bio():
    assert is_bio(BIO) and is_bio(["O", "B-company", "I-company"])
    assert not is_bio(["NOUN", "VERB"]) and not is_bio(["O", "I-PER"]) and not is_bio(["B-", "O"])


def test_split_is_seeded_disjoint_and_deduplicated():
    sents = [([f"w{i % 30}", "x"], ["O", "O"]) for i in range(100)]   # 30 distinct, each repeated
    train, val, test = split_sentences(sents, seed=3)
    assert (train, val, test) == split_sentences(sents, seed=3)
    assert len(train) + len(val) + len(test) == 30 == len(dedupe(sents))
    keys = [{tuple(t) for t, _ in part} for part in (train, val, test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    with pytest.raises(ValueError, match="at least 10 distinct"):
        split_sentences(sents[:5], seed=0)


def test_pieces_and_tokenize():
    toks, tags = list("abcdefg"), ["O"] * 7
    assert [len(t) for t, _ in pieces(toks, tags, max_len=3)] == [3, 3, 1]
    assert sum((t for t, _ in pieces(toks, tags, 3)), []) == toks
    assert tokenize("江泽民 在 北京", char_level=True) == ["江", "泽", "民", "在", "北", "京"]
    assert tokenize("Obama visited 北京 today!", char_level=False) == ["Obama", "visited", "北", "京", "today", "!"]
