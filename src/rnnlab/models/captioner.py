"""One-to-many from a vector: an image feature vector -> a caption, word by word.

    p   = W_p (x - mean) / std              (B, P)   optional frozen PCA (``pca`` > 0), never trained
    s_0 = tanh(W_h p + b_h)                  (L, B, H) initial hidden state    (init "state" | "both")
    c_0 = tanh(W_c p + b_c)                  (L, B, H) and cell, for an LSTM   (init "state" | "both")
    u   = tanh(W_u p + b_u)                  (B, E)    image as input          (init "input" | "both")
    x_t = [E[y_{t-1}]; u]                    (B, T, E + E)  (just E[y_{t-1}] without the input feed)
    h_t = decoder(x_t, s_0)                  (B, T, H)  teacher forcing: y_0 = <bos>
    logits_t = W_o h_t + b_o                 (B, T, V)
    loss = masked mean_t CE(logits_t, y_t)   y = w_1 .. w_n <eos>, <pad> positions masked out

With init "input" the decoder starts from the zero state. Backward runs in reverse:
head -> decoder BPTT (into the inputs and s_0) -> embedding, and the image branch
collects dp from both u (summed over t) and s_0; the PCA is frozen, so the chain
stops at p. ``greedy`` and ``beam_search`` return word ids without <bos> and <eos>.
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array
from ..layers import Embedding, Linear
from ..losses import cross_entropy, cross_entropy_backward, log_softmax
from .base import CELLS, Model, config_dtype, make_recurrent

INITS = ("state", "input", "both")


@dataclass
class CaptionerConfig:
    feature_dim: int                # F: length of the raw feature vector
    vocab_size: int                 # V, with <pad>, <bos>, <eos> at pad_id, bos_id, eos_id
    cell: str = "lstm"
    embed: int = 64
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.0            # between recurrent layers and on the decoder's top outputs
    init: str = "both"              # state | input | both: where the image enters the decoder
    pca: int = 0                    # P > 0: a frozen projection F -> P in front (set by set_projection)
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3
    dtype: str = "float32"          # float64 for gradient checks
    seed: int = 0


class Captioner(Model):
    config_class = CaptionerConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {c.cell!r}")
        if c.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {c.init!r}")
        if c.pca < 0:
            raise ValueError(f"pca must be >= 0 (0: no projection), got {c.pca}")
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(c, name) < c.vocab_size:
                raise ValueError(f"{name} must be in [0, vocab_size={c.vocab_size}), got {getattr(c, name)}")
        dtype = self.dtype = config_dtype(c)
        s = [int(v) for v in np.random.default_rng(c.seed).integers(0, 2**31, size=7)]
        P = c.pca or c.feature_dim
        L, H, E = c.layers, c.hidden, c.embed
        self.uses_state, self.uses_input = c.init in ("state", "both"), c.init in ("input", "both")
        if c.pca:
            self.add("pca", Linear(c.feature_dim, c.pca, dtype=dtype, seed=s[0]))
            self.frozen.update(f"pca.{k}" for k in self.modules["pca"].params)
        self.state_inits = []       # Linears that make s_0: h, and c for an LSTM
        if self.uses_state:
            for i, name in enumerate(("init_h", "init_c") if c.cell == "lstm" else ("init_h",)):
                self.add(name, Linear(P, L * H, dtype=dtype, seed=s[1 + i]))
                self.state_inits.append(name)
        if self.uses_input:
            self.add("feat_in", Linear(P, E, dtype=dtype, seed=s[3]))
        self.embedding = self.add("embedding", Embedding(c.vocab_size, E, padding_idx=c.pad_id, dtype=dtype,
                                                         seed=s[4]))
        in_size = 2 * E if self.uses_input else E
        self.rnn = self.add("rnn", make_recurrent(c.cell, in_size, H, L, dropout=c.dropout, dtype=dtype, seed=s[5]))
        self.head = self.add("head", Linear(H, c.vocab_size, dtype=dtype, seed=s[6]))
        self.rng = np.random.default_rng(c.seed + 1)     # dropout masks when forward gets no rng

    def set_projection(self, mean, components, scale=None):
        """Make the frozen PCA p = components (x - mean) / scale: mean (F,), components (P, F), scale (P,)."""
        if not self.config.pca:
            raise ValueError("this captioner has no projection (config.pca = 0)")
        P, F = self.config.pca, self.config.feature_dim
        components = check_array("components", np.asarray(components, dtype=self.dtype), shape=(P, F))
        mean = check_array("mean", np.asarray(mean, dtype=self.dtype), shape=(F,))
        scale = np.ones(P, dtype=self.dtype) if scale is None else np.asarray(scale, dtype=self.dtype)
        if scale.shape != (P,) or not np.all(scale > 0):
            raise ValueError(f"scale must be {P} positive numbers, got shape {scale.shape}")
        w = components / scale[:, None]                                     # (P, F)
        self.modules["pca"].params["weight"][...] = w
        self.modules["pca"].params["bias"][...] = -(w @ mean)

    # ------------------------------------------------------------------ forward
    def forward(self, features, tgt_in, training=False, rng=None):
        """features (B, F), tgt_in (B, T) ids starting with <bos> -> logits (B, T, V), cache."""
        x = self._check_features(features)
        tgt_in = self._check_ids("tgt_in", tgt_in, B=x.shape[0])
        rng = self.rng if rng is None else rng
        state0, u, img_cache = self._image(x)
        e, e_cache = self.embedding.forward(tgt_in)                         # (B, T, E)
        inp = e if u is None else np.concatenate([e, np.broadcast_to(u[:, None, :], e.shape)], axis=-1)
        h, _, r_cache = self.rnn.forward(inp, state0, training=training, rng=rng)   # (B, T, H)
        drop = None
        if training and self.config.dropout > 0:
            keep = 1.0 - self.config.dropout
            drop = (rng.random(h.shape) < keep).astype(self.dtype) / keep
            h = h * drop
        logits, l_cache = self.head.forward(h)                              # (B, T, V)
        return logits, (img_cache, e_cache, r_cache, drop, l_cache)

    def __call__(self, features, tgt_in, training=False, rng=None):
        return self.forward(features, tgt_in, training, rng)

    def _image(self, x):
        """x (B, F) -> the decoder's initial state (or None), the input feed u (B, E) (or None), cache."""
        c = self.config
        p = self.modules["pca"].forward(x)[0] if c.pca else x               # (B, P)
        B, L, H = x.shape[0], c.layers, c.hidden
        parts, outs = [], {}
        for name in self.state_inits:
            pre, lin_cache = self.modules[name].forward(p)                  # (B, L*H)
            s0 = np.tanh(pre)
            outs[name] = (lin_cache, s0)
            parts.append(np.ascontiguousarray(s0.reshape(B, L, H).transpose(1, 0, 2)))   # (L, B, H)
        state0 = None
        if parts:
            state0 = tuple(parts) if c.cell == "lstm" else parts[0]
        u = None
        if self.uses_input:
            pre, lin_cache = self.modules["feat_in"].forward(p)             # (B, E)
            u = np.tanh(pre)
            outs["feat_in"] = (lin_cache, u)
        return state0, u, outs

    # ------------------------------------------------------------------ backward
    def backward(self, dlogits, cache):
        """dlogits (B, T, V) -> {name: grad} for every trained parameter (the frozen PCA has none)."""
        img_cache, e_cache, r_cache, drop, l_cache = cache
        c = self.config
        grads = {}
        dh, grads["head"] = self.head.backward(dlogits, l_cache)           # (B, T, H)
        if drop is not None:
            dh = dh * drop
        dinp, dstate0, grads["rnn"] = self.rnn.backward(dh, r_cache)       # (B, T, E[+E]), state0's shape
        E = c.embed
        grads["embedding"] = self.embedding.backward(np.ascontiguousarray(dinp[..., :E]), e_cache)
        if self.uses_input:
            lin_cache, u = img_cache["feat_in"]
            du = dinp[..., E:].sum(axis=1)                                  # u feeds every step
            _, grads["feat_in"] = self.modules["feat_in"].backward(du * (1.0 - u * u), lin_cache)
        if self.state_inits:
            parts = dstate0 if isinstance(dstate0, tuple) else (dstate0,)
            for name, ds in zip(self.state_inits, parts):                  # ds (L, B, H)
                lin_cache, s0 = img_cache[name]
                ds = ds.transpose(1, 0, 2).reshape(s0.shape)                # (B, L*H)
                _, grads[name] = self.modules[name].backward(ds * (1.0 - s0 * s0), lin_cache)
        flat = {}
        for name, g in grads.items():
            flat.update(self.split_grads(name, g))
        return {k: flat[k] for k in self.params if k not in self.frozen}

    # ------------------------------------------------------------------ training
    def loss_and_grads(self, features, tgt_in, tgt_out, training=True, rng=None):
        """Teacher-forced mean cross-entropy over the non-<pad> targets, and its gradients."""
        logits, cache = self.forward(features, tgt_in, training=training, rng=rng)
        loss, ce_cache = self._loss(logits, tgt_out)
        return loss, self.backward(cross_entropy_backward(ce_cache), cache)

    def loss(self, features, tgt_in, tgt_out):
        logits, _ = self.forward(features, tgt_in)
        return self._loss(logits, tgt_out)[0]

    def _loss(self, logits, tgt_out):
        tgt_out = self._check_ids("tgt_out", tgt_out, B=logits.shape[0])
        if tgt_out.shape != logits.shape[:2]:
            raise ValueError(f"tgt_out must have shape {logits.shape[:2]} (as tgt_in), got {tgt_out.shape}")
        return cross_entropy(logits, tgt_out, mask=tgt_out != self.config.pad_id)

    # ------------------------------------------------------------------ decoding
    def start(self, features):
        """features (B, F) -> (decoder state, input feed u or None): what every decoding step needs."""
        state0, u, _ = self._image(self._check_features(features))
        if state0 is None:
            state0 = self.rnn.zero_state(u.shape[0])
        return state0, u

    def step(self, tokens, state, u):
        """One decoder step: tokens (B,) -> log-probabilities (B, V) float64, next state."""
        e, _ = self.embedding.forward(np.asarray(tokens, dtype=np.int64)[:, None])   # (B, 1, E)
        inp = e if u is None else np.concatenate([e, u[:, None, :]], axis=-1)
        h, state, _ = self.rnn.forward(inp, state)                          # (B, 1, H)
        logits, _ = self.head.forward(h[:, 0])                              # (B, V)
        return log_softmax(logits.astype(np.float64)), state

    def greedy(self, features, max_len=20):
        """Argmax decoding: one list of word ids per image (no <bos>/<eos>), at most max_len steps."""
        _check_max_len(max_len)
        state, u = self.start(features)
        B = (state[0] if isinstance(state, tuple) else state).shape[1]
        tok = np.full(B, self.config.bos_id, dtype=np.int64)
        done = np.zeros(B, dtype=bool)
        out = [[] for _ in range(B)]
        for _ in range(max_len):
            logp, state = self.step(tok, state, u)
            tok = logp.argmax(axis=1)
            for b in np.flatnonzero(~done):
                if tok[b] == self.config.eos_id:
                    done[b] = True
                else:
                    out[b].append(int(tok[b]))
            if done.all():
                break
        return out

    def beam_search(self, features, beam=4, max_len=20, length_penalty=0.0):
        """Beam search per image: its best caption as word ids (no <bos>/<eos>).

        Each step keeps the ``beam - finished`` best extensions by log P(y_1..y_t | image);
        a hypothesis that emits <eos> (or reaches max_len) leaves the beam. Finished ones
        are ranked by log P / ((5 + n) / 6) ** length_penalty (GNMT; n counts <eos>).
        The penalty only ranks finished hypotheses, so beam=1 is exactly greedy.
        """
        if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
            raise ValueError(f"beam must be a positive integer, got {beam!r}")
        if not np.isfinite(length_penalty) or length_penalty < 0:
            raise ValueError(f"length_penalty must be a finite number >= 0, got {length_penalty!r}")
        _check_max_len(max_len)
        x = self._check_features(features)
        return [self._beam_one(x[b:b + 1], int(beam), int(max_len), float(length_penalty))
                for b in range(x.shape[0])]

    def _beam_one(self, x, beam, max_len, alpha):
        state, u = self.start(x)                                            # batch of one
        eos, V = self.config.eos_id, self.config.vocab_size
        tokens, logps = [[]], np.zeros(1)                                   # live hypotheses
        last = np.array([self.config.bos_id], dtype=np.int64)
        finished = []                                                       # (score, tokens)
        for t in range(max_len):
            n = len(tokens)
            logp, state = self.step(last, state, None if u is None else np.repeat(u[:1], n, axis=0))
            cand = logps[:, None] + logp                                    # (n, V)
            # best total first; ties go to the better step log-prob, then the lower index,
            # so a beam of one picks exactly greedy's argmax
            order = np.lexsort((-logp.ravel(), -cand.ravel()))[:beam - len(finished)]
            keep, new_tokens, new_logps = [], [], []
            for idx in order:
                parent, tok = divmod(int(idx), V)
                total = float(cand[parent, tok])
                if tok == eos or t == max_len - 1:
                    n_tok = len(tokens[parent]) + 1
                    finished.append((total / ((5.0 + n_tok) / 6.0) ** alpha, tokens[parent] + [tok]))
                else:
                    keep.append(parent)
                    new_tokens.append(tokens[parent] + [tok])
                    new_logps.append(total)
            if not keep:
                break
            idx = np.array(keep)
            state = tuple(s[:, idx] for s in state) if isinstance(state, tuple) else state[:, idx]
            tokens, logps = new_tokens, np.array(new_logps)
            last = np.array([tk[-1] for tk in tokens], dtype=np.int64)
        best = max(finished, key=lambda f: f[0])                            # first of equal scores wins
        return [tk for tk in best[1] if tk != eos]

    # ------------------------------------------------------------------ input checks
    def _check_features(self, features):
        x = check_array("features", features, ndim=2, last=self.config.feature_dim, shape_doc="(B, F)")
        if not np.issubdtype(x.dtype, np.number) or x.dtype == bool:
            raise ValueError(f"features must be numbers, got dtype {x.dtype}")
        if x.shape[0] == 0:
            raise ValueError("features must hold at least one image (B, F) with B >= 1")
        return x.astype(self.dtype, copy=False)

    def _check_ids(self, name, ids, B):
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[0] != B:
            raise ValueError(f"{name} must be token ids (B, T) with B = {B} (one row per image), got shape {ids.shape}")
        if ids.size and (ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        V = self.config.vocab_size
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise ValueError(f"{name} contains id {bad}, expected ids in [0, {V})")
        return ids


def _check_max_len(max_len):
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
