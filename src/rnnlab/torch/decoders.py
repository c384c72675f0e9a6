"""PyTorch twins of the tagger, the encoder-decoder and the captioner (see each rnnlab model's docstring)."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Twin, masked_cross_entropy
from .layers import CRF, Attention, length_mask, recurrent, run_recurrent


class SequenceTaggerTwin(Twin):
    """Embedding (+ char BiLSTM) -> recurrent layers -> Linear -> softmax or CRF, per-token loss."""

    numpy_class = "SequenceTagger"
    batch_axes = {"batch": 0}

    @staticmethod
    def loss_terms(config, call):
        return int(np.sum(call["batch"].lengths))

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        feat = c.embed
        if c.char_embed:
            self.char_embedding = nn.Embedding(c.char_vocab_size, c.char_embed, padding_idx=0)
            self.char_rnn = nn.LSTM(c.char_embed, c.char_embed, bidirectional=True, batch_first=True)
            feat += 2 * c.char_embed
        self.rnn = recurrent(c.cell, feat, c.hidden, c.layers, c.bidirectional, c.dropout)
        self.head = nn.Linear((2 if c.bidirectional else 1) * c.hidden, c.num_tags)
        if c.crf:
            self.crf = CRF(c.num_tags)

    def forward(self, ids, lengths, chars=None, char_lengths=None):
        """ids (B, T), lengths (B,), chars (B, T, W), char_lengths (B, T) -> scores (B, T, K)."""
        c = self.config
        ids, lengths = self.ids(ids), self.ids(lengths)
        B, T = ids.shape
        x = self.embedding(ids)                                                 # (B, T, E)
        if c.char_embed:
            rows = torch.nonzero(length_mask(lengths, T).reshape(-1))[:, 0]     # valid tokens, row-major
            cl = self.ids(char_lengths).reshape(-1)[rows]
            e = self.char_embedding(self.ids(chars).reshape(B * T, -1)[rows])   # (N, W, C)
            y, _ = run_recurrent(self.char_rnn, e, cl)                          # (N, W, 2C)
            C = c.char_embed                # the forward state at the last char, the backward one at the first
            h = torch.cat([y[torch.arange(y.shape[0], device=y.device), cl - 1, :C], y[:, 0, C:]], dim=1)
            feats = x.new_zeros(B * T, 2 * C).index_copy(0, rows, h)
            x = torch.cat([x, feats.reshape(B, T, -1)], dim=2)
        x = F.dropout(x, c.dropout, self.training)
        y, _ = run_recurrent(self.rnn, x, lengths)
        return self.head(F.dropout(y, c.dropout, self.training))

    def loss(self, batch):
        """A TagBatch -> per-token loss (CRF: summed sentence NLL / valid tokens)."""
        scores = self(batch.ids, batch.lengths, batch.chars, batch.char_lengths)
        mask = length_mask(self.ids(batch.lengths), scores.shape[1])
        tags = self.ids(batch.tags)
        if self.config.crf:
            return self.crf.nll(scores, tags, mask).sum() / mask.sum(), None
        return masked_cross_entropy(scores, tags, mask), None


class Seq2SeqTwin(Twin):
    """Encoder (optionally bidirectional, with a tanh bridge) -> decoder -> Luong/Bahdanau attention -> head."""

    numpy_class = "Seq2Seq"
    batch_axes = {"src": 0, "src_lengths": 0, "tgt_in": 0, "tgt_out": 0, "tgt_mask": 0}

    @staticmethod
    def loss_terms(config, call):
        mask = call.get("tgt_mask")
        return int(np.sum(np.asarray(call["tgt_out"]) != config.pad_id if mask is None else np.asarray(mask) != 0))

    def __init__(self, config):
        super().__init__(config)
        c = config
        H, D = c.hidden, 2 if c.bidirectional_encoder else 1
        self.src_embedding = nn.Embedding(c.src_vocab, c.embed, padding_idx=c.pad_id)
        self.encoder = recurrent(c.cell, c.embed, H, c.layers, c.bidirectional_encoder, c.dropout)
        self.bridges = []
        if c.bidirectional_encoder:
            for name in ("bridge_h", "bridge_c") if c.cell == "lstm" else ("bridge_h",):
                self.add_module(name, nn.Linear(2 * H, H))
                self.bridges.append(name)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab, c.embed, padding_idx=c.pad_id)
        self.decoder = recurrent(c.cell, c.embed, H, c.layers, False, c.dropout)
        if c.attention != "none":
            kind = c.luong_score if c.attention == "luong" else "bahdanau"
            self.attention = Attention(kind, H, D * H, attn_size=H)
            self.combine = nn.Linear(D * H + H, H, bias=False)
        self.head = nn.Linear(H, c.tgt_vocab)

    def encode(self, src, src_lengths=None):
        """src (B, S) -> keys (B, S, K), mask (B, S), the decoder's initial state."""
        src = self.ids(src)
        B, S = src.shape
        lengths = torch.full((B,), S, dtype=torch.int64) if src_lengths is None else self.ids(src_lengths)
        keys, s_enc = run_recurrent(self.encoder, self.src_embedding(src), lengths)
        mask = length_mask(lengths, S).to(src.device)
        if not self.bridges:
            return keys, mask, s_enc
        L, H = self.config.layers, self.config.hidden
        parts = s_enc if isinstance(s_enc, tuple) else (s_enc,)
        out = []
        for name, part in zip(self.bridges, parts):                             # part (2L, B, H): index 2l + d
            x = part.reshape(L, 2, B, H).permute(0, 2, 1, 3).reshape(L, B, 2 * H)   # [fwd_l; bwd_l]
            out.append(torch.tanh(getattr(self, name)(x)).contiguous())
        return keys, mask, tuple(out) if isinstance(s_enc, tuple) else out[0]

    def decode(self, tgt_in, state, keys, mask):
        """tgt_in (B, T) -> logits (B, T, V), attention weights (B, T, S) or None, the decoder's final state."""
        h, state = self.decoder(self.tgt_embedding(tgt_in), state)              # (B, T, H)
        weights, f = None, h
        if self.config.attention != "none":
            context, weights = self.attention(h, keys, mask)
            f = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))       # attentional hidden state
        return self.head(F.dropout(f, self.config.dropout, self.training)), weights, state

    def forward(self, src, src_lengths, tgt_in):
        """-> logits (B, T, V), attention weights (B, T, S) or None."""
        keys, mask, state0 = self.encode(src, src_lengths)
        logits, weights, _ = self.decode(self.ids(tgt_in), state0, keys, mask)
        return logits, weights

    def loss(self, src, src_lengths, tgt_in, tgt_out, tgt_mask=None):
        logits, _ = self(src, src_lengths, tgt_in)
        tgt_out = self.ids(tgt_out)
        mask = tgt_out != self.config.pad_id if tgt_mask is None else self.ids(tgt_mask) != 0
        return masked_cross_entropy(logits, tgt_out, mask), None

    def step(self, tokens, state, keys, mask):
        """One decoder step: tokens (B,) -> logits (B, V), next state, weights (B, S) or None."""
        logits, weights, state = self.decode(tokens[:, None], state, keys, mask)
        return logits[:, 0], state, None if weights is None else weights[:, 0]


class CaptionerTwin(Twin):
    """Image features -> (frozen PCA) -> initial state and/or input feed -> decoder -> head."""

    numpy_class = "Captioner"
    batch_axes = {"features": 0, "tgt_in": 0, "tgt_out": 0}

    @staticmethod
    def loss_terms(config, call):
        return int(np.sum(np.asarray(call["tgt_out"]) != config.pad_id))

    def __init__(self, config):
        super().__init__(config)
        c = config
        P = c.pca or c.feature_dim
        L, H, E = c.layers, c.hidden, c.embed
        if c.pca:
            self.pca = nn.Linear(c.feature_dim, c.pca)
            self.pca.requires_grad_(False)                                      # frozen, as in rnnlab
        self.state_inits = []
        if c.init in ("state", "both"):
            for name in ("init_h", "init_c") if c.cell == "lstm" else ("init_h",):
                self.add_module(name, nn.Linear(P, L * H))
                self.state_inits.append(name)
        if c.init in ("input", "both"):
            self.feat_in = nn.Linear(P, E)
        self.embedding = nn.Embedding(c.vocab_size, E, padding_idx=c.pad_id)
        self.rnn = recurrent(c.cell, 2 * E if c.init in ("input", "both") else E, H, L, dropout=c.dropout)
        self.head = nn.Linear(H, c.vocab_size)

    def start(self, features):
        """features (B, F) -> the decoder's initial state (or None), the input feed u (B, E) (or None)."""
        c = self.config
        x = self.floats(features)
        p = self.pca(x) if c.pca else x
        B = x.shape[0]
        parts = [torch.tanh(getattr(self, n)(p)).reshape(B, c.layers, c.hidden).transpose(0, 1).contiguous()
                 for n in self.state_inits]                                     # (L, B, H) each
        state = (tuple(parts) if c.cell == "lstm" else parts[0]) if parts else None
        u = torch.tanh(self.feat_in(p)) if c.init in ("input", "both") else None
        return state, u

    def decode(self, tgt_in, state, u):
        e = self.embedding(tgt_in)                                              # (B, T, E)
        inp = e if u is None else torch.cat([e, u[:, None, :].expand_as(e)], dim=-1)
        h, state = self.rnn(inp, state)
        return self.head(F.dropout(h, self.config.dropout, self.training)), state

    def forward(self, features, tgt_in):
        """features (B, F), tgt_in (B, T) -> logits (B, T, V)."""
        state, u = self.start(features)
        return self.decode(self.ids(tgt_in), state, u)[0]

    def loss(self, features, tgt_in, tgt_out):
        logits = self(features, tgt_in)
        tgt_out = self.ids(tgt_out)
        return masked_cross_entropy(logits, tgt_out, tgt_out != self.config.pad_id), None

    def step(self, tokens, state, u):
        """One decoder step: tokens (B,) -> logits (B, V), next state."""
        logits, state = self.decode(tokens[:, None], state, u)
        return logits[:, 0], state
