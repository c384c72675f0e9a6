"""Speech recognition with CTC: acoustic frames in, a per-frame label distribution with a blank out.

    z   = (x - mean) / std                         (B, T, F)      frozen feature normalisation
    u   = stack(z, K)                              (B, T', K*F)   frames t*K .. t*K+K-1 side by side,
                                                                   T' = ceil(T / K), zero-padded at the end
    y   = rnn(u, lengths')                         (B, T', D*H)   bidirectional recurrent layers, any cell
    logits = W_out y + b_out                       (B, T', C)     C labels, the blank among them
    loss = ctc(logits, targets, lengths', target_lengths)

Stacking K frames (``subsample``) shortens the sequence the recurrent layers walk by K
(fewer steps, and each step sees K frames), at the price that a transcript of n labels
then needs at least n (plus its repeated neighbours) of the T' = ceil(T / K) outputs.
``norm.mean`` / ``norm.std`` are set from the training features (``set_normalization``)
and saved with the weights; they are never trained. Backward: CTC -> out -> BPTT; the
input gradient is not needed.
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array, check_lengths
from ..ctc import ctc_loss, ctc_loss_backward
from ..layers import Linear
from ..layers.module import Module
from ..losses import log_softmax
from .base import CELLS, Model, config_dtype, length_mask, make_recurrent


@dataclass
class SpeechConfig:
    num_features: int               # F: numbers per acoustic frame (e.g. 13 MFCCs)
    num_labels: int                 # C: output labels including the blank
    cell: str = "lstm"
    hidden: int = 128
    layers: int = 2
    bidirectional: bool = True
    subsample: int = 1              # K: frames stacked into one recurrent step (1: none)
    dropout: float = 0.0            # between recurrent layers and on the top outputs
    blank: int = 0
    dtype: str = "float32"          # float64 for gradient checks
    seed: int = 0


class FeatureNorm(Module):
    """Per-feature mean and standard deviation, applied as (x - mean) / std; not trained."""

    def __init__(self, num_features, dtype):
        self.params = {"mean": np.zeros(num_features, dtype=dtype), "std": np.ones(num_features, dtype=dtype)}


class SpeechRecognizer(Model):
    config_class = SpeechConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {c.cell!r}")
        if c.subsample < 1:
            raise ValueError(f"subsample must be >= 1, got {c.subsample}")
        if not 0 <= c.blank < c.num_labels or c.num_labels < 2:
            raise ValueError(f"need num_labels >= 2 and a blank in 0..{c.num_labels - 1}, got "
                             f"num_labels={c.num_labels}, blank={c.blank}")
        dtype = self.dtype = config_dtype(c)
        s = [int(v) for v in np.random.default_rng(c.seed).integers(0, 2**31, size=2)]
        self.norm = self.add("norm", FeatureNorm(c.num_features, dtype))
        self.frozen.update({"norm.mean", "norm.std"})
        self.rnn = self.add("rnn", make_recurrent(c.cell, c.subsample * c.num_features, c.hidden, c.layers,
                                                  c.bidirectional, c.dropout, dtype=dtype, seed=s[0]))
        D = 2 if c.bidirectional else 1
        self.out = self.add("out", Linear(D * c.hidden, c.num_labels, dtype=dtype, seed=s[1]))
        self.rng = np.random.default_rng(c.seed + 1)     # dropout masks when forward gets no rng

    def set_normalization(self, mean, std):
        """Fix the frozen feature normalisation: mean (F,), std (F,) > 0 (e.g. of the training frames)."""
        F = self.config.num_features
        mean = check_array("mean", np.asarray(mean, dtype=self.dtype), shape=(F,))
        std = check_array("std", np.asarray(std, dtype=self.dtype), shape=(F,))
        if not np.all(std > 0):
            raise ValueError("std must be positive for every feature")
        self.params["norm.mean"][...] = mean
        self.params["norm.std"][...] = std

    def output_lengths(self, lengths):
        """Output frames per utterance: ceil(lengths / subsample)."""
        K = self.config.subsample
        return (np.asarray(lengths, dtype=np.int64) + K - 1) // K

    # ------------------------------------------------------------------ forward / backward
    def forward(self, frames, lengths=None, training=False, rng=None):
        """frames (B, T, F), lengths (B,) -> logits (B, T', C), output lengths (B,), cache."""
        c = self.config
        x = check_array("frames", frames, ndim=3, last=c.num_features, shape_doc="(B, T, F)")
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"frames must be floating point, got dtype {x.dtype}")
        B, T, F = x.shape
        lengths = np.full(B, T, dtype=np.int64) if lengths is None else check_lengths(lengths, B, T)
        rng = self.rng if rng is None else rng
        K = c.subsample
        T2 = -(-T // K)
        z = (x.astype(self.dtype, copy=False) - self.params["norm.mean"]) / self.params["norm.std"]
        z = z * length_mask(lengths, T, self.dtype)[:, :, None]            # padding stays 0 after normalising
        if T2 * K != T:
            z = np.concatenate([z, np.zeros((B, T2 * K - T, F), dtype=self.dtype)], axis=1)
        u = np.ascontiguousarray(z.reshape(B, T2, K * F))                  # (B, T', K*F)
        out_lengths = self.output_lengths(lengths)
        y, _, r_cache = self.rnn.forward(u, lengths=out_lengths, training=training, rng=rng)   # (B, T', D*H)
        drop = None
        if training and c.dropout > 0:
            keep = 1.0 - c.dropout
            drop = (rng.random(y.shape) < keep).astype(self.dtype) / keep
            y = y * drop
        logits, l_cache = self.out.forward(y)                              # (B, T', C)
        return logits, out_lengths, (r_cache, drop, l_cache)

    def backward(self, dlogits, cache):
        r_cache, drop, l_cache = cache
        dy, g_out = self.out.backward(dlogits, l_cache)
        if drop is not None:
            dy = dy * drop
        _, _, g_rnn = self.rnn.backward(dy, r_cache, need_dx=False)
        return {**self.split_grads("rnn", g_rnn), **self.split_grads("out", g_out)}

    def loss_and_grads(self, frames, lengths, targets, target_lengths=None, training=True, rng=None,
                       zero_infinity=False):
        """CTC loss ("mean": per utterance over its target length, then over the batch) and its grads."""
        logits, out_lengths, cache = self.forward(frames, lengths, training=training, rng=rng)
        loss, ctc_cache = ctc_loss(logits, targets, out_lengths, target_lengths, blank=self.config.blank,
                                   zero_infinity=zero_infinity)
        return loss, self.backward(ctc_loss_backward(ctc_cache), cache)

    def loss(self, frames, lengths, targets, target_lengths=None):
        logits, out_lengths, _ = self.forward(frames, lengths)
        return ctc_loss(logits, targets, out_lengths, target_lengths, blank=self.config.blank)[0]

    def log_probs(self, frames, lengths=None):
        """Per-frame log-probabilities (B, T', C) and the output lengths (B,)."""
        logits, out_lengths, _ = self.forward(frames, lengths)
        return log_softmax(logits.astype(np.float64)), out_lengths
