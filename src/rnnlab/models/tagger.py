"""Many-to-many of equal length: one tag per token (NER, POS), a BiLSTM(-CRF) tagger.

    w = E_word[ids]                                  (B, T, E)
    c = [h_fwd ; h_bwd] of a char BiLSTM per token   (B, T, 2C)    only when char_embed > 0
    x = dropout([w ; c])                             (B, T, E + 2C)
    y = birnn(x, lengths)                            (B, T, D*H)
    s = W dropout(y) + b                             (B, T, K)     tag scores (emissions)

The loss is per token in both variants, so --lr and --clip mean the same thing for both:
    softmax:  mean over valid tokens of -log softmax(s_t)[y_t]
    crf=True: sum over sentences of the CRF's -log p(y | s) (layers/crf.py), / number of valid tokens

Character features (Lample et al., 2016): each token's characters go through an
Embedding(char_vocab_size, C) and a one-layer bidirectional LSTM with C hidden units;
the token's feature is the forward LSTM's last state and the backward LSTM's state at
the first character. Only valid (unpadded) tokens are run through it, and each token's
characters are masked by their own length, so padding never changes a feature.

    model = SequenceTagger(TaggerConfig(vocab_size=V, num_tags=K, crf=True))
    batch = make_batch(id_lists, tag_lists)                 # TagBatch, right-padded
    loss, grads = model.loss_and_grads(batch, training=True, rng=rng)
    paths = model.decode(batch.ids, batch.lengths, labels=labels)   # list of tag-id lists
"""
from dataclasses import dataclass

import numpy as np

from ..layers.crf import bio_transition_mask, crf_nll, crf_nll_backward, init_crf_params, viterbi_decode
from ..layers.embedding import Embedding
from ..layers.linear import Linear
from ..layers.module import Module
from ..layers.recurrent import LSTM
from ..losses import cross_entropy, cross_entropy_backward
from .base import Model, length_mask, make_recurrent


@dataclass
class TaggerConfig:
    vocab_size: int
    num_tags: int
    char_vocab_size: int = 0
    char_embed: int = 0        # 0: no character features; else char embedding size = char LSTM hidden size
    cell: str = "lstm"
    embed: int = 100
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0       # on the recurrent layer's input and output (and between its layers)
    crf: bool = False
    seed: int = 0


@dataclass
class TagBatch:
    """A right-padded batch of sentences; 0 is the padding id of words and characters."""

    ids: np.ndarray               # (B, T) word ids
    lengths: np.ndarray           # (B,) tokens per sentence, >= 1
    tags: np.ndarray | None       # (B, T) tag ids (anything on padded steps), or None
    chars: np.ndarray | None      # (B, T, W) char ids of each token, or None
    char_lengths: np.ndarray | None   # (B, T) characters per token (>= 1 on valid steps), or None


def make_batch(id_lists, tag_lists=None, char_lists=None):
    """Lists per sentence -> TagBatch. char_lists[b][t] is the list of char ids of token t."""
    lengths = np.array([len(s) for s in id_lists], dtype=np.int64)
    if lengths.size == 0 or lengths.min() < 1:
        raise ValueError("make_batch needs at least one sentence and no empty sentence")
    B, T = len(id_lists), int(lengths.max())
    ids = np.zeros((B, T), dtype=np.int64)
    tags = None if tag_lists is None else np.zeros((B, T), dtype=np.int64)
    for b, s in enumerate(id_lists):
        ids[b, :len(s)] = s
        if tags is not None:
            if len(tag_lists[b]) != len(s):
                raise ValueError(f"sentence {b} has {len(s)} tokens but {len(tag_lists[b])} tags")
            tags[b, :len(s)] = tag_lists[b]
    chars = char_lengths = None
    if char_lists is not None:
        char_lengths = np.zeros((B, T), dtype=np.int64)
        for b, words in enumerate(char_lists):
            char_lengths[b, :len(words)] = [max(len(w), 1) for w in words]
        chars = np.zeros((B, T, int(char_lengths.max())), dtype=np.int64)
        for b, words in enumerate(char_lists):
            for t, w in enumerate(words):
                chars[b, t, :len(w)] = w
    return TagBatch(ids, lengths, tags, chars, char_lengths)


def is_bio(labels):
    """True when every label is O, B-X or I-X and there is at least one B-X."""
    labels = list(labels)
    ok = all(lab == "O" or (lab[:2] in ("B-", "I-") and len(lab) > 2) for lab in labels)
    return ok and any(lab.startswith("B-") for lab in labels)


class _CRFParams(Module):
    """The CRF's transition scores under torchcrf.CRF's names (see layers/crf.py)."""

    def __init__(self, num_tags, dtype, seed):
        self.params = init_crf_params(num_tags, np.random.default_rng(seed), dtype)


class SequenceTagger(Model):
    """Embedding (+ char BiLSTM) -> recurrent layers -> Linear -> softmax or CRF. See the module docstring.

    ``dtype`` (float32 for training, float64 for gradient checks) is a property of the
    arrays, not of the architecture, so it is not part of the config.
    """

    config_class = TaggerConfig

    def __init__(self, config, dtype=np.float32):
        super().__init__(config)
        c = config
        if c.num_tags < 1:
            raise ValueError(f"num_tags must be a positive integer, got {c.num_tags!r}")
        if c.char_embed < 0 or (c.char_embed > 0 and c.char_vocab_size < 2):
            raise ValueError(f"char_embed={c.char_embed} needs char_vocab_size >= 2 (got {c.char_vocab_size})")
        if not 0.0 <= c.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {c.dropout!r}")
        self.dtype = np.dtype(dtype)
        s = [int(v) for v in np.random.default_rng(c.seed).integers(0, 2**31, size=6)]
        self.embedding = self.add("embedding", Embedding(c.vocab_size, c.embed, padding_idx=0, dtype=dtype, seed=s[0]))
        feat = c.embed
        if c.char_embed:
            self.char_embedding = self.add("char_embedding", Embedding(c.char_vocab_size, c.char_embed, padding_idx=0,
                                                                       dtype=dtype, seed=s[1]))
            self.char_rnn = self.add("char_rnn", LSTM(c.char_embed, c.char_embed, bidirectional=True,
                                                      dtype=dtype, seed=s[2]))
            feat += 2 * c.char_embed
        self.rnn = self.add("rnn", make_recurrent(c.cell, feat, c.hidden, c.layers, c.bidirectional, c.dropout,
                                                  dtype=dtype, seed=s[3]))
        D = 2 if c.bidirectional else 1
        self.head = self.add("head", Linear(D * c.hidden, c.num_tags, dtype=dtype, seed=s[4]))
        if c.crf:
            self.crf = self.add("crf", _CRFParams(c.num_tags, dtype, s[5]))

    # ------------------------------------------------------------------ forward
    def forward(self, ids, lengths, chars=None, char_lengths=None, training=False, rng=None):
        """ids (B, T), lengths (B,), chars (B, T, W) and char_lengths (B, T) if char_embed -> scores (B, T, K), cache."""
        c = self.config
        ids = np.asarray(ids)
        lengths = np.asarray(lengths, dtype=np.int64)
        B, T = ids.shape
        mask = length_mask(lengths, T)                                  # (B, T) valid steps
        w, w_cache = self.embedding.forward(ids)                        # (B, T, E)
        ch_cache = None
        if c.char_embed:
            if chars is None or char_lengths is None:
                raise ValueError("this tagger uses character features: pass chars (B, T, W) and char_lengths (B, T)")
            feats, ch_cache = self._char_features(np.asarray(chars), np.asarray(char_lengths), mask)
            x = np.concatenate([w, feats], axis=2)                      # (B, T, E + 2C)
        else:
            x = w
        x, drop_in = self._dropout(x, training, rng)
        y, _, r_cache = self.rnn.forward(x, lengths=lengths, training=training, rng=rng)   # (B, T, D*H)
        y, drop_out = self._dropout(y, training, rng)
        scores, h_cache = self.head.forward(y)                          # (B, T, K)
        return scores, (mask, w_cache, ch_cache, drop_in, r_cache, drop_out, h_cache)

    def _char_features(self, chars, char_lengths, mask):
        """Char BiLSTM over the valid tokens only -> (B, T, 2C), cache."""
        B, T = mask.shape
        C = self.config.char_embed
        if chars.ndim != 3 or chars.shape[:2] != (B, T) or char_lengths.shape != (B, T):
            raise ValueError(f"chars must be (B, T, W) = ({B}, {T}, W) and char_lengths ({B}, {T}), "
                             f"got {chars.shape} and {char_lengths.shape}")
        rows = np.flatnonzero(mask.reshape(-1))                        # (N,) valid tokens, row-major
        cl = char_lengths.reshape(-1)[rows]                             # (N,)
        W = int(cl.max())                                               # no padding column beyond the longest word
        e, e_cache = self.char_embedding.forward(chars.reshape(B * T, -1)[rows, :W])   # (N, W, C)
        _, (h_n, _), r_cache = self.char_rnn.forward(e, lengths=cl)    # h_n (2, N, C): last fwd, first bwd
        feats = np.zeros((B * T, 2 * C), dtype=self.dtype)
        feats[rows] = np.concatenate([h_n[0], h_n[1]], axis=1)
        return feats.reshape(B, T, 2 * C), (rows, e_cache, r_cache, (len(rows), W, 2 * C))

    def _dropout(self, x, training, rng):
        p = self.config.dropout
        if not training or p == 0:
            return x, None
        rng = self.rnn.rng if rng is None else rng     # the recurrent layers' own fallback generator
        keep = (rng.random(x.shape) < 1.0 - p).astype(x.dtype) / (1.0 - p)
        return x * keep, keep

    # ------------------------------------------------------------------ backward
    def backward(self, dscores, cache):
        """dscores (B, T, K) -> {"<module>.<param>": gradient}, computed in the reverse order of forward.

        Covers every parameter but the CRF's, whose gradient comes from the loss (loss_with_grad).
        """
        mask, w_cache, ch_cache, drop_in, r_cache, drop_out, h_cache = cache
        c = self.config
        grads = {}
        dy, g = self.head.backward(dscores, h_cache)
        grads.update(self.split_grads("head", g))
        if drop_out is not None:
            dy = dy * drop_out
        dx, _, g = self.rnn.backward(dy, r_cache)
        grads.update(self.split_grads("rnn", g))
        if drop_in is not None:
            dx = dx * drop_in
        if c.char_embed:
            rows, e_cache, cr_cache, (N, W, C2) = ch_cache
            B, T = mask.shape
            dfeats = dx[:, :, c.embed:].reshape(B * T, C2)[rows]       # (N, 2C)
            C = C2 // 2
            dh = np.stack([dfeats[:, :C], dfeats[:, C:]])               # (2, N, C)
            de, _, g = self.char_rnn.backward(np.zeros((N, W, C2), dtype=self.dtype), cr_cache,
                                              (dh, np.zeros_like(dh)))
            grads.update(self.split_grads("char_rnn", g))
            grads.update(self.split_grads("char_embedding", self.char_embedding.backward(de, e_cache)))
            dx = dx[:, :, :c.embed]
        grads.update(self.split_grads("embedding", self.embedding.backward(np.ascontiguousarray(dx), w_cache)))
        return grads

    # ------------------------------------------------------------------ loss
    def loss_and_grads(self, batch, training=True, rng=None):
        """TagBatch -> (per-token loss, flat grads dict)."""
        if batch.tags is None:
            raise ValueError("loss_and_grads needs a batch with tags")
        scores, cache = self.forward(batch.ids, batch.lengths, batch.chars, batch.char_lengths, training, rng)
        loss, dscores, g_crf = self.loss_with_grad(scores, batch.tags, batch.lengths)
        grads = {**self.backward(dscores, cache), **g_crf}
        return loss, {name: grads[name] for name in self.params}

    def loss_with_grad(self, scores, tags, lengths):
        """(per-token loss, dscores (B, T, K), CRF grads {} or {"crf.*": ...}) of scores (B, T, K)."""
        mask = length_mask(lengths, scores.shape[1])                    # (B, T)
        if self.config.crf:
            total, crf_cache = crf_nll(scores, tags, mask, self.crf.params, reduction="sum")
            n = float(mask.sum())
            dscores, g = crf_nll_backward(1.0 / n, crf_cache)
            return float(total) / n, dscores, self.split_grads("crf", g)
        loss, ce_cache = cross_entropy(scores, np.where(mask, tags, 0), mask=mask)
        return loss, cross_entropy_backward(ce_cache).astype(self.dtype, copy=False), {}

    # ------------------------------------------------------------------ decoding
    def decode(self, ids, lengths, chars=None, char_lengths=None, labels=None):
        """Best tag ids per sentence: argmax per token (softmax) or Viterbi (CRF).

        With ``labels`` (the tag names) in BIO form, the CRF's Viterbi search only
        considers valid BIO paths (no I-X after O or after another type, no I-X first).
        Returns a list of B lists, each of its sentence's length.
        """
        scores, _ = self.forward(ids, lengths, chars, char_lengths)
        return self.decode_scores(scores, lengths, labels)

    def decode_scores(self, scores, lengths, labels=None):
        """decode() from already computed scores (B, T, K)."""
        lengths = np.asarray(lengths)
        if not self.config.crf:
            best = scores.argmax(axis=2)                                # (B, T)
            return [best[b, :int(n)].tolist() for b, n in enumerate(lengths)]
        mask = length_mask(lengths, scores.shape[1])
        allowed = starts = None
        if labels is not None and is_bio(labels):
            allowed, starts = bio_transition_mask(labels)
        return viterbi_decode(scores, mask, self.crf.params, allowed, starts)
