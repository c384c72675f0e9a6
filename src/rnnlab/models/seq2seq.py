"""Many-to-many: an encoder-decoder (translation) model with optional global attention.

    e_s = E_src[x_s]                                 (B, S, E)    source embedding
    k_s, s_enc = encoder(e, src_lengths)             (B, S, K)    K = D*H, D = 2 if bidirectional
    s_0 = s_enc                      (unidirectional encoder, same L and H as the decoder)
    s_0[l] = tanh(W_b [fwd_l; bwd_l] + b_b)          (bidirectional: the bridge, h and, for an LSTM, c)
    d_t = E_tgt[y_{t-1}]                             (B, T, E)    target embedding, teacher forcing
    h_t = decoder(d_t, s_0)                          (B, T, H)    all T steps in one call
    c_t, a_t = attention(h_t, k, src mask)           (B, T, K), a_t (B, T, S)
    ht_t = tanh(W_c [c_t; h_t])                      (B, T, H)    the attentional hidden state
    logits_t = W_o ht_t + b_o                        (B, T, V)    (W_o h_t + b_o without attention)
    loss = masked mean_t CE(logits_t, y_t)

This is Luong et al. (2015) global attention without input feeding: the context
never feeds back into the decoder RNN, so the decoder runs over every target step
first and attention is computed for all steps at once. ``attention="bahdanau"``
swaps in the additive score v^T tanh(W_q h_t + W_k k_s) but keeps this pipeline,
i.e. the query is the current decoder output h_t (a common simplification of
Bahdanau et al. 2015, who query with s_{t-1} and feed the context into the RNN).

Backward runs in reverse: head -> combine -> attention (into the query h_t and the
keys k) -> decoder BPTT (into s_0) -> bridge -> encoder BPTT (from dk and ds_enc)
-> embeddings. Padded source positions get attention weight 0 and no gradient.
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array, check_lengths
from ..layers import Embedding, Linear
from ..layers.attention import Attention
from ..losses import cross_entropy, cross_entropy_backward, log_softmax
from .base import CELLS, Model, config_dtype, length_mask, make_recurrent

ATTENTIONS = ("luong", "bahdanau", "none")
LUONG_SCORES = ("dot", "general")


@dataclass
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    cell: str = "lstm"
    embed: int = 64
    hidden: int = 128
    layers: int = 1
    bidirectional_encoder: bool = False
    attention: str = "luong"        # luong | bahdanau | none
    luong_score: str = "general"    # dot | general (luong only)
    dropout: float = 0.0            # between recurrent layers and on the decoder's top features
    pad_id: int = 0                 # embedding row that never trains; default loss mask is tgt_out != pad_id
    dtype: str = "float32"          # float32 | float64 (float64 for gradient checks)
    seed: int = 0


class Seq2Seq(Model):
    config_class = Seq2SeqConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {c.cell!r}")
        if c.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {c.attention!r}")
        if c.luong_score not in LUONG_SCORES:
            raise ValueError(f"luong_score must be one of {LUONG_SCORES}, got {c.luong_score!r}")
        for name in ("src_vocab", "tgt_vocab"):
            if not 0 <= c.pad_id < getattr(c, name):
                raise ValueError(f"pad_id must be in [0, {name}={getattr(c, name)}), got {c.pad_id}")
        dtype = config_dtype(c)
        H, D = c.hidden, 2 if c.bidirectional_encoder else 1
        K = D * H
        if c.attention == "luong" and c.luong_score == "dot" and K != H:
            raise ValueError(f"luong_score='dot' needs encoder outputs of size hidden={H}, but the bidirectional "
                             f"encoder gives {K}; use luong_score='general'")
        s = [int(v) for v in np.random.default_rng(c.seed).integers(0, 2**31, size=9)]
        self.dtype, self.num_directions = dtype, D
        self.src_embedding = self.add("src_embedding", Embedding(c.src_vocab, c.embed, padding_idx=c.pad_id,
                                                                 dtype=dtype, seed=s[0]))
        self.encoder = self.add("encoder", make_recurrent(c.cell, c.embed, H, c.layers, c.bidirectional_encoder,
                                                          c.dropout, dtype=dtype, seed=s[1]))
        self.bridges = []           # names of the bridge Linears: one for h, one more for an LSTM's c
        if c.bidirectional_encoder:
            for i, name in enumerate(("bridge_h", "bridge_c") if c.cell == "lstm" else ("bridge_h",)):
                self.add(name, Linear(2 * H, H, dtype=dtype, seed=s[2 + i]))
                self.bridges.append(name)
        self.tgt_embedding = self.add("tgt_embedding", Embedding(c.tgt_vocab, c.embed, padding_idx=c.pad_id,
                                                                 dtype=dtype, seed=s[4]))
        self.decoder = self.add("decoder", make_recurrent(c.cell, c.embed, H, c.layers, False, c.dropout,
                                                          dtype=dtype, seed=s[5]))
        self.attention = None
        if c.attention != "none":
            kind = c.luong_score if c.attention == "luong" else "bahdanau"
            self.attention = self.add("attention", Attention(kind, H, K, attn_size=H, dtype=dtype, seed=s[6]))
            self.combine = self.add("combine", Linear(K + H, H, bias=False, dtype=dtype, seed=s[7]))
        self.head = self.add("head", Linear(H, c.tgt_vocab, dtype=dtype, seed=s[8]))
        self.rng = np.random.default_rng(c.seed + 1)     # dropout masks when forward gets no rng

    # ------------------------------------------------------------------ forward
    def forward(self, src, src_lengths, tgt_in, training=False, rng=None):
        """src (B, S), src_lengths (B,) or None, tgt_in (B, T) -> logits (B, T, V), weights (B, T, S) | None, cache."""
        src, src_lengths = self._check_src(src, src_lengths)
        tgt_in = self._check_ids("tgt_in", tgt_in, self.config.tgt_vocab, B=src.shape[0])
        rng = self.rng if rng is None else rng
        (keys, mask), state0, enc_cache = self._encode(src, src_lengths, training, rng)
        d, te_cache = self.tgt_embedding.forward(tgt_in)                     # (B, T, E)
        h, _, dec_cache = self.decoder.forward(d, state0, training=training, rng=rng)   # (B, T, H)
        logits, weights, top_cache = self._top(h, keys, mask, training, rng)
        return logits, weights, (enc_cache, te_cache, dec_cache, top_cache)

    def __call__(self, src, src_lengths, tgt_in, training=False, rng=None):
        return self.forward(src, src_lengths, tgt_in, training, rng)

    def _encode(self, src, src_lengths, training, rng):
        """-> (keys (B, S, K), mask (B, S) bool), the decoder's initial state, cache."""
        e, se_cache = self.src_embedding.forward(src)                       # (B, S, E)
        keys, s_enc, enc_cache = self.encoder.forward(e, lengths=src_lengths, training=training, rng=rng)
        mask = length_mask(src_lengths, src.shape[1])                      # (B, S)
        parts = s_enc if isinstance(s_enc, tuple) else (s_enc,)
        if not self.bridges:
            return (keys, mask), s_enc, (se_cache, enc_cache, None)
        L, H = self.config.layers, self.config.hidden
        out, bridge_caches = [], []
        for name, part in zip(self.bridges, parts):                         # part (2L, B, H): index 2l + d
            B = part.shape[1]
            x = part.reshape(L, 2, B, H).transpose(0, 2, 1, 3).reshape(L, B, 2 * H)   # [fwd_l; bwd_l]
            pre, lin_cache = self.modules[name].forward(x)                  # (L, B, H)
            s0 = np.tanh(pre)
            out.append(s0)
            bridge_caches.append((lin_cache, s0))
        state0 = tuple(out) if isinstance(s_enc, tuple) else out[0]
        return (keys, mask), state0, (se_cache, enc_cache, bridge_caches)

    def _top(self, h, keys, mask, training, rng):
        """Decoder outputs h (B, T, H) -> logits (B, T, V), attention weights (B, T, S) | None, cache."""
        weights = a_cache = c_cache = None
        f = h
        if self.attention is not None:
            context, weights, a_cache = self.attention.forward(h, keys, mask)    # (B, T, K), (B, T, S)
            pre, c_cache = self.combine.forward(np.concatenate([context, h], axis=-1))
            f = np.tanh(pre)                                                # (B, T, H) attentional hidden
        ft, drop = f, None
        if training and self.config.dropout > 0:
            keep = 1.0 - self.config.dropout
            drop = (rng.random(f.shape) < keep).astype(f.dtype) / keep
            ft = f * drop
        logits, h_cache = self.head.forward(ft)
        return logits, weights, (a_cache, c_cache, f, drop, h_cache)

    # ------------------------------------------------------------------ backward
    def backward(self, dlogits, cache):
        """dlogits (B, T, V) -> grads, a flat dict with the keys (and order) of ``params``."""
        enc_cache, te_cache, dec_cache, top_cache = cache
        a_cache, c_cache, f, drop, h_cache = top_cache
        B, T, H = f.shape
        dlogits = check_array("dlogits", dlogits, shape=(B, T, self.config.tgt_vocab), dtype=self.dtype,
                              shape_doc="(B, T, V)")
        grads = {}
        df, grads["head"] = self.head.backward(dlogits, h_cache)            # (B, T, H)
        if drop is not None:
            df = df * drop
        dkeys = None
        if self.attention is not None:
            dpre = df * (1.0 - f * f)                                       # through ht = tanh(pre)
            dcat, grads["combine"] = self.combine.backward(dpre, c_cache)   # (B, T, K + H)
            K = dcat.shape[-1] - H
            dq, dkeys, grads["attention"] = self.attention.backward(dcat[..., :K], a_cache)
            dh = dcat[..., K:] + dq                                         # h feeds both combine and the query
        else:
            dh = df
        dd, dstate0, grads["decoder"] = self.decoder.backward(dh, dec_cache)
        grads["tgt_embedding"] = self.tgt_embedding.backward(dd, te_cache)
        self._encode_backward(dkeys, dstate0, enc_cache, grads)
        flat = {}
        for name, g in grads.items():
            flat.update(self.split_grads(name, g))
        return {k: flat[k] for k in self.params}

    def _encode_backward(self, dkeys, dstate0, enc_cache, grads):
        se_cache, cache, bridge_caches = enc_cache
        B, S, _ = cache.x_shape
        if dkeys is None:
            dkeys = np.zeros((B, S, self.num_directions * self.config.hidden), dtype=self.dtype)
        dstate = dstate0
        if bridge_caches is not None:
            L, H = self.config.layers, self.config.hidden
            parts = dstate0 if isinstance(dstate0, tuple) else (dstate0,)
            out = []
            for name, ds, (lin_cache, s0) in zip(self.bridges, parts, bridge_caches):
                dx, grads[name] = self.modules[name].backward(ds * (1.0 - s0 * s0), lin_cache)   # (L, B, 2H)
                out.append(dx.reshape(L, B, 2, H).transpose(0, 2, 1, 3).reshape(2 * L, B, H))
            dstate = tuple(out) if isinstance(dstate0, tuple) else out[0]
        de, _, grads["encoder"] = self.encoder.backward(dkeys, cache, dstate)
        grads["src_embedding"] = self.src_embedding.backward(de, se_cache)

    # ------------------------------------------------------------------ training
    def loss_and_grads(self, src, src_lengths, tgt_in, tgt_out, tgt_mask=None, training=True, rng=None):
        """Teacher-forced masked mean cross-entropy and its gradients.

        tgt_out (B, T) the next tokens; tgt_mask (B, T) or None for ``tgt_out != pad_id``.
        """
        logits, _, cache = self.forward(src, src_lengths, tgt_in, training=training, rng=rng)
        loss, ce_cache = self._loss(logits, tgt_out, tgt_mask)
        return loss, self.backward(cross_entropy_backward(ce_cache), cache)

    def loss(self, src, src_lengths, tgt_in, tgt_out, tgt_mask=None):
        logits, _, _ = self.forward(src, src_lengths, tgt_in)
        return self._loss(logits, tgt_out, tgt_mask)[0]

    def _loss(self, logits, tgt_out, tgt_mask):
        tgt_out = self._check_ids("tgt_out", tgt_out, self.config.tgt_vocab, shape=logits.shape[:2])
        if tgt_mask is None:
            tgt_mask = tgt_out != self.config.pad_id
        elif np.shape(tgt_mask) != tgt_out.shape:
            raise ValueError(f"tgt_mask must have shape {tgt_out.shape} (as tgt_out), got {np.shape(tgt_mask)}")
        return cross_entropy(logits, tgt_out, mask=tgt_mask)

    # ------------------------------------------------------------------ decoding
    def encode(self, src, src_lengths=None):
        """src (B, S) -> memory (keys (B, S, K), mask (B, S)) and the decoder's initial state."""
        src, src_lengths = self._check_src(src, src_lengths)
        memory, state0, _ = self._encode(src, src_lengths, False, None)
        return memory, state0

    def decode_step(self, tokens, state, memory):
        """One decoder step: tokens (B,) -> log-probs (B, V) float64, next state, weights (B, S) | None."""
        keys, mask = memory
        tokens = self._check_ids("tokens", tokens, self.config.tgt_vocab, B=keys.shape[0], ndim=1)
        d, _ = self.tgt_embedding.forward(tokens[:, None])                   # (B, 1, E)
        h, state, _ = self.decoder.forward(d, state)                         # (B, 1, H)
        logits, weights, _ = self._top(h, keys, mask, False, None)
        logp = log_softmax(logits[:, 0].astype(np.float64))
        return logp, state, (None if weights is None else weights[:, 0])

    def greedy_decode(self, src, src_lengths, bos, eos, max_len=100):
        """Argmax decoding of a batch: -> (ids, attention).

        src_lengths may be None (no padding). ids[b] is a list of target ids, without bos,
        ending with eos if it was produced within max_len steps; attention[b] is
        (len(ids[b]), src_lengths[b]) (None without attention).
        """
        src, src_lengths = self._check_src(src, src_lengths)
        self._check_decode_args(bos, eos, max_len)
        memory, state = self.encode(src, src_lengths)
        B = src.shape[0]
        tok = np.full(B, bos, dtype=np.int64)
        done = np.zeros(B, dtype=bool)
        ids, rows = [[] for _ in range(B)], [[] for _ in range(B)]
        for _ in range(max_len):
            logp, state, w = self.decode_step(tok, state, memory)
            tok = logp.argmax(axis=1)
            for b in np.flatnonzero(~done):
                ids[b].append(int(tok[b]))
                if w is not None:
                    rows[b].append(w[b, :src_lengths[b]])
                done[b] = tok[b] == eos
            if done.all():
                break
        attn = [np.array(r) if self.attention is not None else None for r in rows]
        return ids, attn

    @staticmethod
    def select_state(state, index):
        """Rows ``index`` (batch axis 1) of a decoder state: (L, B, H), or an LSTM's (h, c)."""
        if isinstance(state, tuple):
            return tuple(s[:, index] for s in state)
        return state[:, index]

    @staticmethod
    def select_memory(memory, index):
        """Rows ``index`` of a memory (keys (B, S, K), mask (B, S))."""
        keys, mask = memory
        return keys[index], mask[index]

    # ------------------------------------------------------------------ input checks
    def _check_src(self, src, src_lengths):
        src = self._check_ids("src", src, self.config.src_vocab)
        B, S = src.shape
        if S == 0:
            raise ValueError("src must have at least one position (B, S) with S >= 1")
        lengths = np.full(B, S, dtype=np.int64) if src_lengths is None else check_lengths(src_lengths, B, S)
        return src, lengths

    def _check_ids(self, name, ids, V, B=None, shape=None, ndim=2):
        if hasattr(ids, "detach"):
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        doc = "(B,)" if ndim == 1 else "(B, T)"
        if ids.ndim != ndim:
            raise ValueError(f"{name} must be a {ndim}-D array of token ids {doc}, got shape {ids.shape}")
        if ids.size and (ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        if B is not None and ids.shape[0] != B:
            raise ValueError(f"{name} must have {B} rows (one per source sequence), got shape {ids.shape}")
        if shape is not None and ids.shape != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise ValueError(f"{name} contains id {bad}, expected ids in [0, {V})")
        return ids

    def _check_decode_args(self, bos, eos, max_len):
        V = self.config.tgt_vocab
        for name, v in (("bos", bos), ("eos", eos)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < V:
                raise ValueError(f"{name} must be a target id in [0, {V}), got {v!r}")
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
