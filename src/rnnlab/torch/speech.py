"""PyTorch twin of the speech recognizer: frozen normalisation, frame stacking, recurrent layers, CTC.

    z = (x - norm.mean) / norm.std          (B, T, F)      padding set to 0 after normalising
    u = z.reshape(B, T', K*F)               (B, T', K*F)   K = subsample frames side by side, T' = ceil(T / K)
    y = rnn(u, ceil(lengths / K))           (B, T', D*H)   nn.RNN/LSTM/GRU over pack_padded_sequence
    logits = out(dropout(y))                (B, T', C)
    loss = F.ctc_loss(log_softmax(logits))  "mean": each utterance over its target length, then over the batch

The targets are checked by the NumPy model's own ``rnnlab.ctc.ctc_inputs``, so a transcript
that cannot fit its frames is the same one-line error with either engine.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..ctc import ctc_inputs
from .base import Twin
from .layers import length_mask, recurrent, run_recurrent


class FeatureNorm(nn.Module):
    """Per-feature mean and standard deviation, applied as (x - mean) / std; not trained."""

    def __init__(self, num_features):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(num_features), requires_grad=False)
        self.std = nn.Parameter(torch.ones(num_features), requires_grad=False)

    def forward(self, x):
        return (x - self.mean) / self.std


class SpeechRecognizerTwin(Twin):
    numpy_class = "SpeechRecognizer"
    batch_axes = {"frames": 0, "lengths": 0, "targets": 0, "target_lengths": 0}

    @staticmethod
    def loss_terms(config, call):
        return len(call["lengths"])                 # "mean" averages the per-utterance losses over the batch

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.norm = FeatureNorm(c.num_features)
        self.rnn = recurrent(c.cell, c.subsample * c.num_features, c.hidden, c.layers, c.bidirectional, c.dropout)
        self.out = nn.Linear((2 if c.bidirectional else 1) * c.hidden, c.num_labels)

    def forward(self, frames, lengths):
        """frames (B, T, F), lengths (B,) -> logits (B, T', C), output lengths (B,) = ceil(lengths / subsample)."""
        K = self.config.subsample
        x, lengths = self.floats(frames), self.ids(lengths)
        B, T, Fe = x.shape
        z = self.norm(x) * length_mask(lengths, T)[:, :, None].to(x.dtype)
        z = F.pad(z, (0, 0, 0, (K - T % K) % K))                              # zero frames up to a multiple of K
        u = z.reshape(B, -1, K * Fe)                                          # (B, T', K*F)
        out_lengths = torch.div(lengths + K - 1, K, rounding_mode="floor")
        y, _ = run_recurrent(self.rnn, u, out_lengths)                        # (B, T', D*H), zeros past each length
        return self.out(F.dropout(y, self.config.dropout, self.training)), out_lengths

    def log_probs(self, frames, lengths):
        """Per-frame log-probabilities (B, T', C) and the output lengths (B,), as the NumPy model's."""
        logits, out_lengths = self(frames, lengths)
        return torch.log_softmax(logits, dim=-1), out_lengths

    def loss(self, frames, lengths, targets, target_lengths=None, *, zero_infinity=False):
        """F.ctc_loss, "mean" as rnnlab.ctc: each utterance's -log p over its target length, then over the batch.

        An impossible alignment is a ValueError unless ``zero_infinity`` (then that utterance counts 0)."""
        c = self.config
        logits, out_lengths = self(frames, lengths)
        B, T2, C = logits.shape
        targets, target_lengths, _, _ = ctc_inputs(targets, target_lengths, out_lengths.cpu().numpy(), B, T2, C,
                                                   c.blank, zero_infinity)
        logp = torch.log_softmax(logits, dim=-1).transpose(0, 1)              # (T', B, C), as ctc_loss takes it
        loss = F.ctc_loss(logp, self.ids(targets), out_lengths, self.ids(target_lengths), blank=c.blank,
                          reduction="mean", zero_infinity=zero_infinity)
        return loss, None


__all__ = ["SpeechRecognizerTwin", "FeatureNorm"]
