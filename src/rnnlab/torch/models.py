"""PyTorch twins of the language model, the three classifiers and the piano-roll model.

Each is the ordinary PyTorch version of its rnnlab model (see that model's docstring for
the equations): the same submodule and parameter names, the same dropout placement,
and a ``loss`` with the arguments of the NumPy ``loss_and_grads``.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Twin, detach_state
from .layers import length_mask, recurrent, run_recurrent


class LanguageModelTwin(Twin):
    numpy_class = "LanguageModel"
    carries_state = True
    batch_axes = {"ids": 0, "targets": 0, "state": 1}

    @staticmethod
    def loss_terms(config, call):
        return int(np.sum(np.asarray(call["targets"]) != -100))

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed)
        self.rnn = recurrent(c.cell, c.embed, c.hidden, c.layers, dropout=c.dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)

    def forward(self, ids, state=None):
        """ids (B, T) -> logits (B, T, V), final state."""
        h, state = self.rnn(self.embedding(self.ids(ids)), self.state(state))
        return self.head(h), state

    def loss(self, ids, targets, state=None):
        """Mean next-token cross-entropy (targets equal to -100 are ignored); the state is carried, detached."""
        logits, new_state = self(ids, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.ids(targets).reshape(-1), ignore_index=-100)
        return loss, detach_state(new_state)

    def step(self, token, state):
        """One generation step: token (B,) and state -> logits (B, V), next state (the module ONNX exports)."""
        h, state = self.rnn(self.embedding(token)[:, None, :], state)
        return self.head(h[:, 0]), state


class _ClassifierTwin(Twin):
    batch_axes = {"ids": 0, "lengths": 0, "labels": 0}

    @staticmethod
    def loss_terms(config, call):
        return len(call["labels"])

    def loss(self, ids, lengths, labels):
        return F.cross_entropy(self(ids, lengths), self.ids(labels)), None

    def dropout(self, f):
        return F.dropout(f, self.config.dropout, self.training)

    def dense(self, m):
        """The one-to-one models' layers: head(dropout(tanh(hidden(m))))."""
        return self.head(self.dropout(torch.tanh(self.hidden(m))))


class SequenceClassifierTwin(_ClassifierTwin):
    numpy_class = "SequenceClassifier"

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        self.rnn = recurrent(c.cell, c.embed, c.hidden, c.layers, c.bidirectional, c.dropout)
        self.head = nn.Linear((2 if c.bidirectional else 1) * c.hidden, c.num_classes)

    def forward(self, ids, lengths):
        """ids (B, T), lengths (B,) -> logits (B, C)."""
        c = self.config
        ids = self.ids(ids)
        y, _ = run_recurrent(self.rnn, self.embedding(ids), lengths)           # (B, T, D*H)
        if c.pooling == "last":
            # the top layer's final states, read off y (the same values as h_n[-D:], and an output
            # ONNX export keeps): forward at the last valid step, backward at the first
            H = c.hidden
            f = y[torch.arange(ids.shape[0], device=y.device), self.ids(lengths) - 1, :H]
            if c.bidirectional:
                f = torch.cat([f, y[:, 0, H:]], dim=1)                          # (B, 2H)
        else:
            mask = length_mask(self.ids(lengths), ids.shape[1])[:, :, None]
            if c.pooling == "mean":
                f = (y * mask).sum(dim=1) / self.ids(lengths)[:, None].to(y.dtype)
            else:
                f = y.masked_fill(~mask, float("-inf")).max(dim=1).values
        return self.head(self.dropout(f))


class BagOfVectorsTwin(_ClassifierTwin):
    numpy_class = "BagOfVectors"

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        self.hidden = nn.Linear(c.embed, c.hidden)
        self.head = nn.Linear(c.hidden, c.num_classes)

    def forward(self, ids, lengths):
        ids, lengths = self.ids(ids), self.ids(lengths)
        e = self.embedding(ids)                                                 # (B, T, E)
        w = length_mask(lengths, ids.shape[1]).to(e.dtype) / lengths[:, None].to(e.dtype)
        m = torch.einsum("bte,bt->be", e, w)                                    # mean of the valid vectors
        return self.dense(m)


class Doc2VecArrays(nn.Module):
    """The Doc2Vec word and output weights (V, D) that infer a new text's vector (with gensim); not trained."""

    def __init__(self, vocab_size, vector_size):
        super().__init__()
        self.words = nn.Parameter(torch.zeros(vocab_size, vector_size), requires_grad=False)
        self.output = nn.Parameter(torch.zeros(vocab_size, vector_size), requires_grad=False)


class DocVectorClassifierTwin(_ClassifierTwin):
    """The dense layers over document vectors; the vectors come in already inferred, as in the NumPy model."""

    numpy_class = "DocVectorClassifier"

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.hidden = nn.Linear(c.vector_size, c.hidden)            # first: the twin's dtype is the dense layers'
        self.head = nn.Linear(c.hidden, c.num_classes)
        self.doc2vec = Doc2VecArrays(c.vocab_size, c.vector_size)

    def forward(self, vectors, lengths=None):
        """vectors (B, D) document vectors -> logits (B, C); lengths is ignored (as the NumPy model's)."""
        return self.dense(self.floats(vectors))


class PianoRollModelTwin(Twin):
    numpy_class = "PianoRollModel"
    batch_axes = {"frames": 0, "lengths": 0}

    @staticmethod
    def loss_terms(config, call):
        B, T = np.shape(call["frames"])[:2]
        return B * T if call.get("lengths") is None else int(np.sum(call["lengths"]))

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.rnn = recurrent(c.cell, c.pitches, c.hidden, c.layers, dropout=c.dropout)
        self.head = nn.Linear(c.hidden, c.pitches)

    def forward(self, x, state=None, lengths=None):
        """x (B, T, P) input frames -> logits (B, T, P), final state."""
        h, state = run_recurrent(self.rnn, self.floats(x), lengths, self.state(state))
        return self.head(h), state

    def loss(self, frames, lengths=None):
        """NLL per frame: summed BCE over pitches and valid frames / number of valid frames."""
        frames = self.floats(frames)
        B, T, _ = frames.shape
        x = torch.cat([torch.zeros_like(frames[:, :1]), frames[:, :-1]], dim=1)   # each frame's predecessor
        logits, _ = self(x, lengths=lengths)
        mask = (torch.ones(B, T, dtype=torch.bool, device=frames.device) if lengths is None
                else length_mask(self.ids(lengths), T))
        total = F.binary_cross_entropy_with_logits(logits[mask], frames[mask], reduction="sum")
        return total / mask.sum(), None

    def step(self, frame, state):
        """One generation step: frame (B, P) and state -> logits (B, P), next state."""
        h, state = self.rnn(frame[:, None, :], state)
        return self.head(h[:, 0]), state
