"""Many-to-one (sentiment of a review) and its order-blind one-to-one baseline.

SequenceClassifier:
    e = E[x]                           (B, T, E)
    y, h_n = rnn(e, lengths)           (B, T, D*H)
    f = last valid state | mean_t y | max_t y      (B, D*H)
    logits = Why f + b                 (B, C)

BagOfVectors (the article's dense model over word vectors):
    m = mean of E[x_t] over valid t    (B, E)     -- word order is gone here
    logits = W2 tanh(W1 m + b1) + b2   (B, C)

DocVectorClassifier (the same dense layers over a Doc2Vec document vector):
    logits = W2 tanh(W1 v + b1) + b2   (B, C)     v (B, D) from gensim (rnnlab.data.doc2vec)
    The Doc2Vec word and output weights that infer v for new texts are frozen parameters
    (``doc2vec.words``, ``doc2vec.output``), so they are saved with the weights.
"""
from dataclasses import dataclass

import numpy as np

from ..layers.embedding import Embedding
from ..layers.linear import Linear
from ..losses import cross_entropy, cross_entropy_backward
from ..layers.module import Module
from .base import Model, config_dtype, length_mask, make_recurrent


@dataclass
class ClassifierConfig:
    vocab_size: int
    num_classes: int
    cell: str = "lstm"
    embed: int = 100
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    pooling: str = "last"      # last | mean | max
    dropout: float = 0.0       # between recurrent layers and on the pooled features
    seed: int = 0
    dtype: str = "float32"


@dataclass
class BagConfig:
    vocab_size: int
    num_classes: int
    embed: int = 100
    hidden: int = 128
    dropout: float = 0.0
    seed: int = 0
    dtype: str = "float32"


class _Classifier(Model):
    def loss_and_grads(self, ids, lengths, labels, training=True, rng=None):
        logits, cache = self.forward(ids, lengths, training=training, rng=rng)
        loss, ce_cache = cross_entropy(logits, labels)
        return loss, self.backward(cross_entropy_backward(ce_cache), cache)

    def predict_proba(self, ids, lengths):
        logits, _ = self.forward(ids, lengths)
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def _add_dense(self, in_size, seeds, dtype):
        """The one-to-one models' hidden (in_size -> hidden) and head (hidden -> classes) layers."""
        c = self.config
        self.hidden = self.add("hidden", Linear(in_size, c.hidden, dtype=dtype, seed=int(seeds[0])))
        self.head = self.add("head", Linear(c.hidden, c.num_classes, dtype=dtype, seed=int(seeds[1])))

    def _dense_forward(self, m, training, rng):
        """logits = head(dropout(tanh(hidden(m)))) for the one-to-one models."""
        a, h_cache = self.hidden.forward(m)
        h = np.tanh(a)                                                  # kept for backward: tanh' = 1 - h^2
        h_drop, drop = self._dropout(h, training, rng)
        logits, l_cache = self.head.forward(h_drop)
        return logits, (h_cache, h, drop, l_cache)

    def _dense_backward(self, dlogits, cache):
        """dm and the hidden/head grads of _dense_forward."""
        h_cache, h, drop, l_cache = cache
        dh, g_head = self.head.backward(dlogits, l_cache)
        if drop is not None:
            dh = dh * drop
        dm, g_hidden = self.hidden.backward(dh * (1.0 - h * h), h_cache)
        return dm, {**self.split_grads("hidden", g_hidden), **self.split_grads("head", g_head)}

    def _dropout(self, f, training, rng):
        if not training or self.config.dropout == 0:
            return f, None
        keep = 1.0 - self.config.dropout
        m = (rng.random(f.shape) < keep).astype(f.dtype) / keep
        return f * m, m


class SequenceClassifier(_Classifier):
    config_class = ClassifierConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.pooling not in ("last", "mean", "max"):
            raise ValueError(f"pooling must be last, mean or max, got {c.pooling!r}")
        s = np.random.default_rng(c.seed).integers(0, 2**31, size=3)
        dt = config_dtype(c)
        self.embedding = self.add("embedding", Embedding(c.vocab_size, c.embed, padding_idx=0, dtype=dt,
                                                         seed=int(s[0])))
        self.rnn = self.add("rnn", make_recurrent(c.cell, c.embed, c.hidden, c.layers, c.bidirectional,
                                                  c.dropout, dtype=dt, seed=int(s[1])))
        D = 2 if c.bidirectional else 1
        self.head = self.add("head", Linear(D * c.hidden, c.num_classes, dtype=dt, seed=int(s[2])))

    def forward(self, ids, lengths, training=False, rng=None):
        """ids (B, T), lengths (B,) -> logits (B, C), cache."""
        c = self.config
        D, H = self.rnn.num_directions, c.hidden
        e, e_cache = self.embedding.forward(ids)
        y, state, r_cache = self.rnn.forward(e, lengths=lengths, training=training, rng=rng)
        h_n = state[0] if isinstance(state, tuple) else state          # (L*D, B, H)
        if c.pooling == "last":
            f = np.concatenate(list(h_n[-D:]), axis=1)                  # (B, D*H)
            aux = None
        else:
            mask = length_mask(lengths, ids.shape[1], y.dtype)[:, :, None]
            if c.pooling == "mean":
                aux = mask / np.asarray(lengths, dtype=y.dtype)[:, None, None]
                f = (y * aux).sum(axis=1)
            else:
                masked = np.where(mask > 0, y, -np.inf)
                aux = masked.argmax(axis=1)                             # (B, D*H)
                f = np.take_along_axis(y, aux[:, None, :], axis=1)[:, 0]
        f, drop = self._dropout(f, training, rng)
        logits, l_cache = self.head.forward(f)
        return logits, (e_cache, r_cache, l_cache, aux, drop, y.shape, h_n.shape)

    def backward(self, dlogits, cache):
        e_cache, r_cache, l_cache, aux, drop, y_shape, hn_shape = cache
        c = self.config
        D, H = self.rnn.num_directions, c.hidden
        df, g_head = self.head.backward(dlogits, l_cache)
        if drop is not None:
            df = df * drop
        dy = np.zeros(y_shape, dtype=df.dtype)
        dstate = None
        if c.pooling == "last":
            dh = np.zeros(hn_shape, dtype=df.dtype)
            for d in range(D):
                dh[hn_shape[0] - D + d] = df[:, d * H:(d + 1) * H]
            dstate = (dh, np.zeros_like(dh)) if self.rnn.mode == "LSTM" else dh
        elif c.pooling == "mean":
            dy = df[:, None, :] * aux
        else:
            np.put_along_axis(dy, aux[:, None, :], df[:, None, :], axis=1)
        de, _, g_rnn = self.rnn.backward(dy, r_cache, dstate)
        g_emb = self.embedding.backward(de, e_cache)
        return {**self.split_grads("embedding", g_emb), **self.split_grads("rnn", g_rnn),
                **self.split_grads("head", g_head)}


class BagOfVectors(_Classifier):
    config_class = BagConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        s = np.random.default_rng(c.seed).integers(0, 2**31, size=3)
        dt = config_dtype(c)
        self.embedding = self.add("embedding", Embedding(c.vocab_size, c.embed, padding_idx=0, dtype=dt,
                                                         seed=int(s[0])))
        self._add_dense(c.embed, s[1:], dt)

    def forward(self, ids, lengths, training=False, rng=None):
        e, e_cache = self.embedding.forward(ids)                        # (B, T, E)
        w = length_mask(lengths, ids.shape[1], e.dtype) / np.asarray(lengths, dtype=e.dtype)[:, None]
        m = np.einsum("bte,bt->be", e, w)                               # (B, E) mean of the valid vectors
        logits, d_cache = self._dense_forward(m, training, rng)
        return logits, (e_cache, w, d_cache)

    def backward(self, dlogits, cache):
        e_cache, w, d_cache = cache
        dm, grads = self._dense_backward(dlogits, d_cache)
        de = dm[:, None, :] * w[:, :, None]
        return {**self.split_grads("embedding", self.embedding.backward(de, e_cache)), **grads}


@dataclass
class DocVectorConfig:
    num_classes: int
    vector_size: int = 100     # D: the Doc2Vec vector size
    vocab_size: int = 1        # Doc2Vec's words (rows of the frozen doc2vec.* arrays)
    hidden: int = 128
    dropout: float = 0.0
    seed: int = 0
    dtype: str = "float32"


class DocVectorClassifier(_Classifier):
    config_class = DocVectorConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        shape = (c.vocab_size, c.vector_size)
        self.doc2vec = self.add("doc2vec", _Frozen({"words": np.zeros(shape, dtype=np.float32),
                                                    "output": np.zeros(shape, dtype=np.float32)}))
        self.frozen.update({"doc2vec.words", "doc2vec.output"})
        self._add_dense(c.vector_size, np.random.default_rng(c.seed).integers(0, 2**31, size=2), config_dtype(c))

    def forward(self, vectors, lengths=None, training=False, rng=None):
        """vectors (B, D) document vectors -> logits (B, C), cache; lengths is ignored."""
        v = np.asarray(vectors, dtype=self.hidden.dtype)
        return self._dense_forward(v, training, rng)

    def backward(self, dlogits, cache):
        return self._dense_backward(dlogits, cache)[1]


class _Frozen(Module):
    def __init__(self, params):
        self.params = params
