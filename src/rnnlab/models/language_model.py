"""One-to-many: a character- or word-level language model that generates text.

    e_t = E[x_t]                      (B, T, E)   embedding
    h_t = cell(e_t, h_{t-1})          (B, T, H)   recurrent layers (Wxh, Whh)
    logits_t = Why h_t + b            (B, T, V)   output layer
    loss = mean_t CE(logits_t, x_{t+1})

Trained as char-rnn is: the corpus cut into B parallel streams, the state carried
from one chunk of ``bptt`` steps to the next (truncated BPTT).
"""
from dataclasses import dataclass

import numpy as np

from ..layers.embedding import Embedding
from ..layers.linear import Linear
from ..losses import cross_entropy, cross_entropy_backward
from ..engine import engine_cell
from .base import Model, config_dtype, make_recurrent
from .sampling import sample_token


@dataclass
class LanguageModelConfig:
    vocab_size: int
    cell: str = "lstm"
    embed: int = 64
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.0
    level: str = "char"     # "char" or "word": how text is tokenized
    seed: int = 0
    dtype: str = "float32"  # float64 for gradient checks


class LanguageModel(Model):
    config_class = LanguageModelConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        rng = np.random.default_rng(c.seed)
        seeds = rng.integers(0, 2**31, size=3)
        dt = config_dtype(c)
        self.embedding = self.add("embedding", Embedding(c.vocab_size, c.embed, dtype=dt, seed=int(seeds[0])))
        self.rnn = self.add("rnn", make_recurrent(c.cell, c.embed, c.hidden, c.layers, dropout=c.dropout,
                                                  dtype=dt, seed=int(seeds[1])))
        self.head = self.add("head", Linear(c.hidden, c.vocab_size, dtype=dt, seed=int(seeds[2])))

    def forward(self, ids, state=None, training=False, rng=None):
        """ids (B, T) -> logits (B, T, V), final state, cache."""
        e, e_cache = self.embedding.forward(ids)
        h, state, r_cache = self.rnn.forward(e, state, training=training, rng=rng)
        logits, l_cache = self.head.forward(h)
        return logits, state, (e_cache, r_cache, l_cache)

    def backward(self, dlogits, cache, dstate=None):
        e_cache, r_cache, l_cache = cache
        dh, g_head = self.head.backward(dlogits, l_cache)
        de, _, g_rnn = self.rnn.backward(dh, r_cache, dstate)
        g_emb = self.embedding.backward(de, e_cache)
        return {**self.split_grads("embedding", g_emb), **self.split_grads("rnn", g_rnn),
                **self.split_grads("head", g_head)}

    def loss_and_grads(self, ids, targets, state=None, training=True, rng=None):
        """Mean next-token cross-entropy of one chunk and its gradients; state is carried, not differentiated."""
        logits, new_state, cache = self.forward(ids, state, training=training, rng=rng)
        # the logits are this step's own: log-probabilities and then dlogits overwrite them
        loss, ce_cache = cross_entropy(logits, targets, inplace=True)
        del logits
        grads = self.backward(cross_entropy_backward(ce_cache, inplace=True), cache)
        return loss, grads, new_state

    def loss(self, ids, targets, state=None):
        logits, new_state, _ = self.forward(ids, state)
        loss, _ = cross_entropy(logits, targets)
        return loss, new_state

    def sample(self, prime_ids, length, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Generate ``length`` token ids after the priming ids; temperature 0 is greedy.

        The prime runs through ``forward``; each new token then takes one ``step_projected``
        per layer, with the first layer's input product read from a table of projected
        embeddings (one row per token) computed once.
        """
        rng = np.random.default_rng(seed)
        if len(prime_ids) == 0:
            raise ValueError("sampling needs at least one priming token")
        logits, state, _ = self.forward(np.asarray(prime_ids, dtype=np.int64)[None, :])
        steps = self.stepper()
        states = steps.split(state)
        out = []
        last = logits[0, -1]
        for _ in range(length):
            tok = sample_token(last, temperature, top_k, top_p, rng)
            out.append(tok)
            last, states = steps(tok, states)
        return out

    def stepper(self):
        """A callable (token, per-layer states) -> (logits (V,), states) for fast generation."""
        return _Stepper(self)


class _Stepper:
    """One generation step of a LanguageModel through the engine's cache-free step functions."""

    def __init__(self, model):
        rnn = model.rnn
        self.cell = engine_cell(rnn.mode)
        self.kw = {"nonlinearity": "relu"} if rnn.mode == "RNN_RELU" else {}
        self.params = [rnn._dir_params(k, 0)[0] for k in range(rnn.num_layers)]
        self.table = self.cell.project(model.embedding.params["weight"], self.params[0])   # (V, G)
        self.W, self.b = model.head.params["weight"], model.head.params["bias"]
        self.lstm = rnn.mode == "LSTM"

    def split(self, state):
        """Stacked (L, 1, H) state (or (h, c)) -> a list of per-layer states."""
        if self.lstm:
            return [(state[0][k], state[1][k]) for k in range(len(self.params))]
        return [state[k] for k in range(len(self.params))]

    def __call__(self, token, states):
        new = []
        h, s = self.cell.step_projected(self.table[token:token + 1], states[0], self.params[0], **self.kw)
        new.append(s)
        for k in range(1, len(self.params)):
            h, s = self.cell.step(h, states[k], self.params[k], **self.kw)
            new.append(s)
        logits = h @ self.W.T
        logits += self.b
        return logits[0], new
