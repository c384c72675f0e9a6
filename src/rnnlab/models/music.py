"""One-to-many music: a polyphonic piano-roll model (independent sigmoid per pitch).

A chorale is a sequence of frames f_0 .. f_{T-1}, each a multi-hot vector over P
pitches (1 where the pitch sounds). The model predicts every frame from the
frames before it, starting from an all-zero frame:

    x_t = f_{t-1}  (x_0 = 0)          (B, T, P)   input frames, shifted by one
    h_t = cell(x_t, h_{t-1})          (B, T, H)   recurrent layers (Wxh, Whh)
    logits_t = Why h_t + b            (B, T, P)   one logit per pitch
    p(f_t | f_<t) = prod_k sigma(logits_tk)^f_tk (1 - sigma(logits_tk))^(1 - f_tk)
    loss = NLL per frame = (1 / #frames) sum_{b,t<len_b} sum_k BCE(logits_btk, f_btk)

i.e. the sum over pitches of binary cross-entropy, averaged over the valid frames
of the batch: the "negative log-likelihood per time step" of the polyphonic music
benchmarks (Boulanger-Lewandowski et al. 2012; Chung et al. 2014, arXiv 1412.3555).

Backward: dlogits_btk = (sigma(logits_btk) - f_btk) / #frames on valid frames,
0 on padding; then the output Linear and BPTT through the recurrent layers
(padded steps carry the state and get no gradient, see ``rnnlab.engine``).

The melody model (the soprano line as tokens) is the plain ``LanguageModel``;
the tokens are built in ``rnnlab.tasks.music``.
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array, check_lengths
from ..layers.linear import Linear
from ..losses import bce_with_logits, bce_with_logits_backward, sigmoid
from .base import CELLS, Model, config_dtype, length_mask, make_recurrent


@dataclass
class PianoRollConfig:
    pitches: int                # P: size of a frame (one input and one output unit per pitch)
    cell: str = "lstm"
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0        # between recurrent layers
    dtype: str = "float32"      # float32 | float64 (float64 for gradient checks)
    seed: int = 0


def shift_frames(frames):
    """Targets (B, T, P) -> inputs (B, T, P): each frame's predecessor, zeros before the first."""
    x = np.zeros_like(frames)
    x[:, 1:] = frames[:, :-1]
    return x


def frame_mask(lengths, B, T, dtype):
    """(B, T) of 1 on the valid frames of right-padded sequences (all 1 when lengths is None)."""
    if lengths is None:
        return np.ones((B, T), dtype=dtype)
    return length_mask(lengths, T, dtype)


class PianoRollModel(Model):
    config_class = PianoRollConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {c.cell!r}")
        if not isinstance(c.pitches, (int, np.integer)) or c.pitches < 1:
            raise ValueError(f"pitches must be a positive integer, got {c.pitches!r}")
        self.dtype = config_dtype(c)
        s = np.random.default_rng(c.seed).integers(0, 2**31, size=2)
        self.rnn = self.add("rnn", make_recurrent(c.cell, c.pitches, c.hidden, c.layers, dropout=c.dropout,
                                                  dtype=self.dtype, seed=int(s[0])))
        self.head = self.add("head", Linear(c.hidden, c.pitches, dtype=self.dtype, seed=int(s[1])))

    # ------------------------------------------------------------------ forward / backward
    def forward(self, x, state=None, lengths=None, training=False, rng=None):
        """x (B, T, P) input frames -> logits (B, T, P), final state, cache."""
        x = check_array("x", x, ndim=3, last=self.config.pitches, dtype=self.dtype, shape_doc="(B, T, P)")
        h, state, r_cache = self.rnn.forward(x, state, lengths=lengths, training=training, rng=rng)
        logits, l_cache = self.head.forward(h)
        return logits, state, (r_cache, l_cache)

    def backward(self, dlogits, cache, dstate=None):
        """dlogits (B, T, P) -> {name: grad} for every parameter."""
        r_cache, l_cache = cache
        dh, g_head = self.head.backward(dlogits, l_cache)
        _, _, g_rnn = self.rnn.backward(dh, r_cache, dstate)
        return {**self.split_grads("rnn", g_rnn), **self.split_grads("head", g_head)}

    def _frames(self, frames, lengths):
        frames = check_array("frames", frames, ndim=3, last=self.config.pitches, dtype=self.dtype,
                             shape_doc="(B, T, P)")
        B, T, _ = frames.shape
        if lengths is not None:
            lengths = check_lengths(lengths, B, T)
        return frames, lengths, frame_mask(lengths, B, T, self.dtype)

    def loss_and_grads(self, frames, lengths=None, training=True, rng=None):
        """NLL per frame of right-padded piano rolls frames (B, T, P) with lengths (B,), and its gradients."""
        frames, lengths, mask = self._frames(frames, lengths)
        logits, _, cache = self.forward(shift_frames(frames), lengths=lengths, training=training, rng=rng)
        n = float(mask.sum())
        total, bce_cache = bce_with_logits(logits, frames, mask=mask, reduction="sum")
        dlogits = bce_with_logits_backward(bce_cache, dloss=1.0 / n)
        return total / n, self.backward(dlogits, cache)

    def frame_stats(self, frames, lengths=None):
        """Sums over the valid frames of a batch: {"nll", "frames", "tp", "fp", "fn"}.

        nll: summed per-frame NLL (nats). tp/fp/fn: counts of the frame-level transcription
        accuracy of Bay et al. (2009), ACC = TP / (TP + FP + FN), with each pitch predicted
        on when p > 0.5 given the true previous frames.
        """
        frames, lengths, mask = self._frames(frames, lengths)
        logits, _, _ = self.forward(shift_frames(frames), lengths=lengths)
        total, _ = bce_with_logits(logits, frames, mask=mask, reduction="sum")
        on, m = logits > 0, mask[:, :, None] > 0
        truth = frames > 0.5
        return {"nll": float(total), "frames": int(mask.sum()),
                "tp": int(np.sum(on & truth & m)), "fp": int(np.sum(on & ~truth & m)),
                "fn": int(np.sum(~on & truth & m))}

    # ------------------------------------------------------------------ generation
    def sample(self, length, prime=None, temperature=1.0, seed=None):
        """Draw ``length`` frames (length, P) of 0/1 after the priming frames prime (T0, P) or none.

        Every pitch of a frame is an independent Bernoulli draw with p = sigma(logit / temperature);
        temperature 0 turns each pitch on exactly when p > 0.5. The drawn frame is fed back as the
        next input.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        P = self.config.pitches
        rng = np.random.default_rng(seed)
        x = np.zeros((1, 1, P), dtype=self.dtype)
        if prime is not None and len(prime):
            prime = check_array("prime", prime, ndim=2, last=P, dtype=self.dtype, shape_doc="(T0, P)")
            x = np.concatenate([x, prime[None]], axis=1)          # (1, 1 + T0, P)
        logits, state, _ = self.forward(x)
        out = np.zeros((length, P), dtype=self.dtype)
        for t in range(length):
            z = logits[0, -1].astype(np.float64)
            if temperature == 0:
                frame = z > 0
            else:
                frame = rng.random(P) < sigmoid(z / temperature)
            out[t] = frame
            logits, state, _ = self.forward(out[None, t:t + 1], state)
        return out
