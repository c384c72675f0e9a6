"""Global attention over encoder outputs: Luong (dot, general) and Bahdanau (additive) scores.

A query q attends to the keys k_1..k_S (the encoder outputs); padded source
positions (mask 0) get weight exactly 0:

    dot        score_s = q . k_s                             (needs Q == K)
    general    score_s = q . (W_a k_s)                        W_a (Q, K)
    bahdanau   score_s = v . tanh(W_q q + W_k k_s)            W_q (A, Q), W_k (A, K), v (A,)
    w = softmax over the valid s of score_s                   (B, [T,] S)
    context = sum_s w_s k_s                                   (B, [T,] K)

Pure functions with explicit caches; ``query`` is one step (B, Q) or every decoder
step at once (B, T, Q), which is how teacher forcing uses it (Luong et al. 2015's
global attention without input feeding: the decoder RNN runs over all T steps
first, then attention for all T in one go):

    context, weights, cache = attention_forward(query, keys, mask, params, kind)
    dquery, dkeys, grads = attention_backward(dcontext, dweights, cache)

Backward (per query row, g = dweights + dcontext . k_s is dL/dw_s):

    dkeys_s += w_s dcontext        dscore_s = w_s (g_s - sum_r w_r g_r)
    dot:       dq = sum_s dscore_s k_s          dk_s += dscore_s q
    general:   u = q W_a   du = sum_s dscore_s k_s   dk_s += dscore_s u   dq = du W_a^T   dW_a = q^T du
    bahdanau:  z = tanh(W_q q + W_k k_s)   da = dscore_s v (1 - z^2)   dv = sum dscore_s z
               dq = (sum_s da) W_q   dk_s += da W_k   dW_q = (sum_s da)^T q   dW_k = da^T k

``Attention`` is the parameter container a model registers; it calls these functions.
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array
from ..init import uniform_init
from .linear import rows_matmul
from .module import Module

KINDS = ("dot", "general", "bahdanau")


@dataclass
class _Cache:
    kind: str
    params: dict
    query: np.ndarray       # (B, T, Q)
    keys: np.ndarray        # (B, S, K)
    weights: np.ndarray     # (B, T, S)
    aux: object             # general: u (B, T, K); bahdanau: z (B, T, S, A); dot: None
    one_step: bool          # query was (B, Q): outputs drop the T axis


def attention_forward(query, keys, mask, params, kind):
    """query (B, Q) or (B, T, Q), keys (B, S, K), mask (B, S) or None -> context, weights, cache.

    context is (B, K) or (B, T, K); weights (B, S) or (B, T, S). Every row of ``mask``
    needs at least one nonzero entry.
    """
    if kind not in KINDS:
        raise ValueError(f"attention kind must be one of {KINDS}, got {kind!r}")
    keys = check_array("keys", keys, ndim=3, shape_doc="(B, S, K)")
    if not np.issubdtype(keys.dtype, np.floating):
        raise ValueError(f"keys must be a floating array (B, S, K), got dtype {keys.dtype}")
    B, S, K = keys.shape
    query = check_array("query", query, dtype=keys.dtype, shape_doc="(B, Q) or (B, T, Q)")
    one_step = query.ndim == 2
    if query.ndim not in (2, 3) or query.shape[0] != B:
        raise ValueError(f"query must have shape ({B}, Q) or ({B}, T, Q) to match keys {keys.shape}, "
                         f"got {query.shape}")
    q = query[:, None, :] if one_step else query                         # (B, T, Q)
    mask = _check_mask(mask, B, S)
    _check_params(params, kind, q.shape[-1], K, keys.dtype)

    aux = None
    if kind == "dot":
        scores = np.matmul(q, keys.transpose(0, 2, 1))                     # (B, T, S)
    elif kind == "general":
        aux = rows_matmul(q, params["W_a"])                                # (B, T, K)  u = q W_a
        scores = np.matmul(aux, keys.transpose(0, 2, 1))                   # (B, T, S)
    else:
        pq = rows_matmul(q, params["W_q"].T)                               # (B, T, A)
        pk = rows_matmul(keys, params["W_k"].T)                            # (B, S, A)
        aux = np.tanh(pq[:, :, None, :] + pk[:, None, :, :])               # (B, T, S, A)
        scores = aux @ params["v"]                                         # (B, T, S)
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)                                               # masked positions: exp(-inf) = 0
    weights /= weights.sum(axis=-1, keepdims=True)
    context = np.matmul(weights, keys)                                     # (B, T, K)
    cache = _Cache(kind, params, q, keys, weights, aux, one_step)
    if one_step:
        return context[:, 0], weights[:, 0], cache
    return context, weights, cache


def attention_backward(dcontext, dweights, cache):
    """dcontext like context, dweights like weights or None -> dquery, dkeys (B, S, K), grads."""
    c = cache
    q, keys, w = c.query, c.keys, c.weights
    B, T, _ = q.shape
    K = keys.shape[-1]
    lead = (B,) if c.one_step else (B, T)
    dcontext = check_array("dcontext", dcontext, shape=lead + (K,), dtype=keys.dtype)
    dc = dcontext[:, None, :] if c.one_step else dcontext                  # (B, T, K)
    dw = np.matmul(dc, keys.transpose(0, 2, 1))                            # (B, T, S)
    if dweights is not None:
        dweights = check_array("dweights", dweights, shape=lead + (w.shape[-1],), dtype=keys.dtype)
        dw = dw + (dweights[:, None, :] if c.one_step else dweights)
    dkeys = np.matmul(w.transpose(0, 2, 1), dc)                            # (B, S, K)
    dscore = w * (dw - np.sum(w * dw, axis=-1, keepdims=True))             # (B, T, S) softmax backward
    grads = {}
    if c.kind == "dot":
        dq = np.matmul(dscore, keys)                                       # (B, T, Q)
        dkeys += np.matmul(dscore.transpose(0, 2, 1), q)
    elif c.kind == "general":
        du = np.matmul(dscore, keys)                                       # (B, T, K)
        dkeys += np.matmul(dscore.transpose(0, 2, 1), c.aux)
        dq = rows_matmul(du, c.params["W_a"].T)                            # (B, T, Q)
        grads["W_a"] = q.reshape(-1, q.shape[-1]).T @ du.reshape(-1, K)    # (Q, K)
    else:
        z = c.aux                                                          # (B, T, S, A)
        A = z.shape[-1]
        v = c.params["v"]
        grads["v"] = np.einsum("bts,btsa->a", dscore, z)                   # (A,)
        da = dscore[..., None] * v * (1.0 - z * z)                         # (B, T, S, A)
        dpq = da.sum(axis=2)                                               # (B, T, A)
        dpk = da.sum(axis=1)                                               # (B, S, A)
        dq = rows_matmul(dpq, c.params["W_q"])                             # (B, T, Q)
        dkeys += rows_matmul(dpk, c.params["W_k"])
        grads["W_q"] = dpq.reshape(-1, A).T @ q.reshape(-1, q.shape[-1])   # (A, Q)
        grads["W_k"] = dpk.reshape(-1, A).T @ keys.reshape(-1, K)          # (A, K)
        grads = {k: grads[k] for k in ("W_q", "W_k", "v")}
    return (dq[:, 0] if c.one_step else dq), dkeys, grads


def attention_param_shapes(kind, query_size, key_size, attn_size=None):
    """Ordered {name: shape} of the parameters a score needs (dot has none)."""
    if kind not in KINDS:
        raise ValueError(f"attention kind must be one of {KINDS}, got {kind!r}")
    if kind == "dot":
        if query_size != key_size:
            raise ValueError(f"dot attention needs query size == key size, got {query_size} and {key_size}; "
                             f"use 'general' or 'bahdanau'")
        return {}
    if kind == "general":
        return {"W_a": (query_size, key_size)}
    A = key_size if attn_size is None else attn_size
    return {"W_q": (A, query_size), "W_k": (A, key_size), "v": (A,)}


class Attention(Module):
    """The parameters of one attention score and a forward/backward that call the pure functions.

    Initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as a torch.nn.Linear of the same shape
    (fan_in = K for W_a, Q for W_q, K for W_k, A for v).
    """

    def __init__(self, kind, query_size, key_size, attn_size=None, dtype=np.float32, seed=None):
        for name, n in (("query_size", query_size), ("key_size", key_size)) + \
                (() if attn_size is None else (("attn_size", attn_size),)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.kind, self.query_size, self.key_size, self.dtype = kind, int(query_size), int(key_size), dtype
        shapes = attention_param_shapes(kind, self.query_size, self.key_size, attn_size)
        self.attn_size = shapes["v"][0] if "v" in shapes else None
        self.rng = np.random.default_rng(seed)
        fan_in = {"W_a": self.key_size, "W_q": self.query_size, "W_k": self.key_size, "v": self.attn_size}
        self.params = {k: uniform_init(s, 1.0 / np.sqrt(fan_in[k]), self.rng, dtype) for k, s in shapes.items()}

    def forward(self, query, keys, mask=None):
        return attention_forward(query, keys, mask, self.params, self.kind)

    def __call__(self, query, keys, mask=None):
        return self.forward(query, keys, mask)

    def backward(self, dcontext, cache, dweights=None):
        return attention_backward(dcontext, dweights, cache)

    def __repr__(self):
        a = f", attn_size={self.attn_size}" if self.attn_size else ""
        return f"Attention({self.kind!r}, {self.query_size}, {self.key_size}{a})"


def _check_mask(mask, B, S):
    if mask is None:
        return None
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.shape != (B, S):
        raise ValueError(f"mask must have shape ({B}, {S}) (batch, source positions), got {mask.shape}")
    mask = mask != 0
    empty = ~mask.any(axis=1)
    if empty.any():
        raise ValueError(f"mask row {int(np.argmax(empty))} has no valid source position; "
                         f"every sequence needs at least one")
    return mask


def _check_params(params, kind, Q, K, dtype):
    shapes = attention_param_shapes(kind, Q, K, np.shape(params["v"])[0] if kind == "bahdanau" and "v" in params
                                    else None)
    for name, shape in shapes.items():
        if name not in params:
            raise ValueError(f"{kind} attention needs parameter {name!r} {shape}; got {sorted(params)}")
        p = params[name]
        if np.shape(p) != shape:
            raise ValueError(f"attention parameter {name} must have shape {shape} for query size {Q} and "
                             f"key size {K}, got {np.shape(p)}")
        if p.dtype != dtype:
            raise ValueError(f"attention parameter {name} has dtype {p.dtype} but keys are {np.dtype(dtype)}")
