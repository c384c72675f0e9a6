"""Losses with hand-written backward passes.

    loss, cache = cross_entropy(logits, targets, mask=None)     # logits (..., C), targets (...)
    dlogits = cross_entropy_backward(cache)                     # (..., C)

    loss, cache = bce_with_logits(logits, targets, mask=None)   # multi-label, e.g. piano rolls
    dlogits = bce_with_logits_backward(cache)

    loss, cache = ctc_loss(logits, targets, input_lengths, target_lengths)   # CTC (rnnlab.ctc)
    dlogits = ctc_loss_backward(cache)

Position weights: a position counts with weight mask[...] (1 when mask is None)
and weight 0 where targets == ignore_index (cross entropy). "mean" divides the
weighted sum by the total weight, PyTorch's ``ignore_index`` semantics; when every
position is masked out the loss is 0.0 with zero gradient (PyTorch gives nan).
"""
import functools

import numpy as np

from .checks import check_array
from .ctc import ctc_loss, ctc_loss_backward  # noqa: F401 - the CTC loss lives in its own file

_REDUCTIONS = ("mean", "sum")
_BLOCK = 1 << 16        # elements per block of rows in log_softmax's temporary exponentials


def log_softmax(x, axis=-1, out=None):
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))), stable for any finite x.

    ``out`` (x itself allowed) receives the result. Over the last axis of a C-contiguous float
    array this is one compiled pass per row (unless the engine runs "numpy"); otherwise NumPy sums
    the exponentials a block of rows at a time. Either way the only full-size array made is the result.
    """
    x = np.asarray(x)
    outs = () if out is None else (out,)
    K = _compiled(x, *outs) if axis in (-1, x.ndim - 1) else None
    if K is not None:
        out = np.empty_like(x) if out is None else out
        K.log_softmax_rows(_as_rows(x), _as_rows(out), np.empty(0, dtype=np.int64), np.empty(0, dtype=x.dtype))
        return out
    out = np.subtract(x, np.max(x, axis=axis, keepdims=True), out=out)
    if axis not in (-1, x.ndim - 1) or out.ndim < 2 or not out.flags.c_contiguous:
        out -= np.log(np.sum(np.exp(out), axis=axis, keepdims=True))
        return out
    rows = out.reshape(-1, out.shape[-1])
    step = max(1, _BLOCK // max(rows.shape[1], 1))
    for r0 in range(0, rows.shape[0], step):
        block = rows[r0:r0 + step]
        block -= np.log(np.sum(np.exp(block), axis=1, keepdims=True))
    return out


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so it never overflows."""
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))                       # in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


# ---------------------------------------------------------------------- cross entropy
def cross_entropy(logits, targets, mask=None, reduction="mean", ignore_index=-100, inplace=False):
    """Softmax cross entropy: -log softmax(logits)[target] at every position.

    logits (..., C) float; targets (...) integers in [0, C) or ``ignore_index``;
    mask (...) bool or float weights, or None. Returns (loss float, cache).
    ``inplace=True`` writes the log-probabilities over ``logits`` (which must then be a
    writable C-contiguous array the caller no longer needs) instead of a new array.
    """
    logits = check_array("logits", logits, finite=False)
    if logits.ndim < 1 or not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(f"logits must be a floating array (..., C), got dtype {logits.dtype} shape {logits.shape}")
    C = logits.shape[-1]
    targets = _check_targets(targets, logits.shape[:-1])
    _check_reduction(reduction)
    w = _weights(mask, logits.shape[:-1], logits.dtype) * (targets != ignore_index)   # (...)
    valid = w != 0
    bad = valid & ((targets < 0) | (targets >= C))
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        raise ValueError(f"targets{list(i)} = {int(targets[i])} is out of range for {C} classes "
                         f"(expected 0..{C - 1} or ignore_index={ignore_index})")
    safe = np.where(valid, targets, 0)                                              # (...)
    own = inplace and logits.flags.writeable and logits.flags.c_contiguous
    logp = logits if own else np.empty(logits.shape, dtype=logits.dtype)           # (..., C)
    K = _compiled(logits, logp)
    if K is not None:                                                               # one pass per row
        nll = np.empty(safe.shape, dtype=logits.dtype)                              # (...)
        K.log_softmax_rows(_as_rows(logits), _as_rows(logp), safe.reshape(-1), nll.reshape(-1))
    else:
        log_softmax(logits, out=logp)
        nll = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]           # (...)
    total = np.sum(np.where(valid, w * nll, 0.0))       # masked positions count 0 even if their logits are inf
    denom = _denominator(w, reduction)
    loss = float(total / denom) if denom else 0.0
    return loss, (logp, safe, w, denom)


def cross_entropy_backward(cache, dloss=1.0, inplace=False):
    """dlogits (..., C) = dloss * w / denom * (softmax(logits) - onehot(target)).

    ``inplace=True`` computes dlogits in the cache's log-probability array (the cache
    cannot be used again), so the step holds one (..., C) array instead of two.
    """
    logp, safe, w, denom = cache
    scale = ((w * (dloss / denom)) if denom else np.zeros_like(w)).astype(logp.dtype, copy=False)   # (...)
    dlogits = logp if inplace else np.empty_like(logp)                              # (..., C)
    K = _compiled(logp, dlogits)
    if K is not None:
        K.cross_entropy_backward_rows(_as_rows(logp), safe.reshape(-1), np.ascontiguousarray(scale).reshape(-1),
                                      _as_rows(dlogits))
        return dlogits
    np.exp(logp, out=dlogits)                                                       # softmax
    np.put_along_axis(dlogits, safe[..., None], np.take_along_axis(dlogits, safe[..., None], axis=-1) - 1.0, axis=-1)
    dlogits *= scale[..., None]
    return dlogits


# ---------------------------------------------------------------------- binary cross entropy
def bce_with_logits(logits, targets, mask=None, reduction="mean"):
    """Independent sigmoid cross entropy per element (multi-label, e.g. the notes of a piano roll).

    loss = max(x, 0) - x t + log(1 + exp(-|x|)), x = logits (...), t = targets in [0, 1]
    of the same shape. mask: the shape of logits or a leading part of it (e.g.
    (B, T) for logits (B, T, 88)), broadcast over the rest. "mean" averages over
    the unmasked elements. Returns (loss float, cache).
    """
    logits = check_array("logits", logits, finite=False)
    if not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(f"logits must be a floating array, got dtype {logits.dtype}")
    targets = check_array("targets", targets, shape=logits.shape, shape_doc="(same shape as logits)")
    if targets.size and (targets.min() < 0 or targets.max() > 1):
        raise ValueError(f"targets must lie in [0, 1], got values in [{targets.min()}, {targets.max()}]")
    targets = targets.astype(logits.dtype, copy=False)
    _check_reduction(reduction)
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != logits.shape[:m.ndim]:
            raise ValueError(f"mask must have the shape of logits {logits.shape} or a leading part of it, "
                             f"got {m.shape}")
        mask = m.reshape(m.shape + (1,) * (logits.ndim - m.ndim))
    w = np.broadcast_to(_weights(mask, mask.shape if mask is not None else logits.shape, logits.dtype),
                        logits.shape)
    x = logits
    per = np.maximum(x, 0) - x * targets + np.log1p(np.exp(-np.abs(x)))
    denom = _denominator(w, reduction)
    loss = float(np.sum(np.where(w != 0, w * per, 0.0)) / denom) if denom else 0.0
    return loss, (x, targets, w, denom)


def bce_with_logits_backward(cache, dloss=1.0):
    """dlogits = dloss * w / denom * (sigmoid(x) - t)."""
    x, targets, w, denom = cache
    if not denom:
        return np.zeros_like(x)
    return ((sigmoid(x) - targets) * (w * (dloss / denom))).astype(x.dtype, copy=False)


# ---------------------------------------------------------------------- helpers
def _compiled(x, *outs):
    """The compiled row kernels (``engine._numba_softmax``) for input x and outputs outs: None when the engine runs
    pure NumPy (``rnnlab.engine.set_backend("numpy")``, or while a background process compiles the kernels: see
    ``engine._warm``), numba is missing, or they are not C-contiguous float32/float64 arrays (..., C), C >= 1, of
    one shape and dtype with writable outputs (the NumPy code handles those)."""
    if x.dtype not in (np.float32, np.float64) or x.ndim < 1 or x.shape[-1] == 0 or not x.flags.c_contiguous:
        return None
    if not all(o.dtype == x.dtype and o.shape == x.shape and o.flags.c_contiguous and o.flags.writeable for o in outs):
        return None
    K = _kernels()
    if K is None:
        return None
    from .engine import get_backend
    return None if get_backend() == "numpy" else K


@functools.cache
def _kernels():
    """``engine._numba_softmax``, imported once, or None without numba."""
    try:
        from .engine import _numba_softmax
    except ImportError:
        return None
    return _numba_softmax


def _as_rows(a):
    """A C-contiguous (..., C) array as its (N, C) view."""
    return a.reshape(-1, a.shape[-1])


def _check_targets(targets, shape):
    if hasattr(targets, "detach"):
        targets = targets.detach().cpu().numpy()
    targets = np.asarray(targets)
    if targets.dtype == bool or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer class ids, got dtype {targets.dtype}")
    if targets.shape != tuple(shape):
        raise ValueError(f"targets must have shape {tuple(shape)} (logits without the class axis), got {targets.shape}")
    return targets


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _weights(mask, shape, dtype):
    """Per-position weights (shape) from a bool/float mask or None."""
    if mask is None:
        return np.ones(shape, dtype=dtype)
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must have shape {tuple(shape)}, got {mask.shape}")
    if mask.size and (not np.isfinite(mask.astype(np.float64)).all() or mask.min() < 0):
        raise ValueError("mask must hold non-negative finite weights (or booleans)")
    return mask.astype(dtype)


def _denominator(w, reduction):
    """The number the weighted sum is divided by (0.0 when nothing counts under "mean")."""
    if reduction == "sum":
        return 1.0
    return float(np.sum(w))
