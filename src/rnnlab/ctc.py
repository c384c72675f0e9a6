"""Connectionist temporal classification (Graves et al. 2006): the loss and its backward pass.

    loss, cache = ctc_loss(logits, targets, input_lengths, target_lengths)   # logits (B, T, C)
    dlogits = ctc_loss_backward(cache)                                       # (B, T, C)

A target l (length L, labels in 1..C-1 when blank = 0) is extended with blanks,
l' = (blank, l_1, blank, l_2, ..., l_L, blank) of length S = 2L + 1, and every
frame-level path that collapses to l (merge repeats, drop blanks) walks l' left
to right. With y_t = softmax(logits_t) the forward variables in log space are

    alpha_0(0) = log y_0(blank),  alpha_0(1) = log y_0(l'_1)
    alpha_t(s) = log y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))

where the s-2 term counts only when l'_s is a label different from l'_{s-2} (a skip
over a blank; between repeated labels the blank is required). The backward variables
(excluding frame t's own emission) are

    beta_{T-1}(S-1) = beta_{T-1}(S-2) = 0
    beta_t(s) = logsumexp over s' in {s, s+1, s+2 (if l'_{s+2} may be skipped to)}
                of log y_{t+1}(l'_{s'}) + beta_{t+1}(s')

so that alpha_t(s) + beta_t(s) is the log probability of all paths through (t, s),
log p(l | x) = logsumexp(alpha_{T-1}(S-1), alpha_{T-1}(S-2)), and

    d(-log p) / dlogits_t(k) = y_t(k) - sum over s with l'_s = k of exp(alpha_t(s) + beta_t(s) - log p).

Each sequence b uses its own T_b = input_lengths[b] and L_b = target_lengths[b];
frames t >= T_b get zero gradient. Reductions follow torch.nn.functional.ctc_loss:
"sum" adds -log p over the batch; "mean" divides each by max(L_b, 1) and averages
over the batch.

An impossible alignment (T_b smaller than L_b plus the number of adjacent repeated
labels, each of which needs a blank between) raises ValueError naming the sequence,
unless ``zero_infinity=True``: then that sequence's loss and gradient are 0, as in
PyTorch. The loss is never inf or NaN.

The recursion runs in float64 whatever the logits' dtype; the gradient comes back
in the logits' dtype.
"""
import numpy as np

from .checks import check_array

_REDUCTIONS = ("mean", "sum")


def ctc_loss(logits, targets, input_lengths=None, target_lengths=None, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of unnormalized per-frame scores.

    logits (B, T, C) float; targets (B, L) int right-padded (or a list of B label
    sequences); input_lengths (B,) frames per sequence (None: all T); target_lengths
    (B,) (None: the lengths of the listed sequences, or L for a padded array).
    Returns (loss float, cache).
    """
    logits = check_array("logits", logits)
    if logits.ndim != 3 or not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(f"logits must be a floating array (B, T, C), got dtype {logits.dtype} shape {logits.shape}")
    B, T, C = logits.shape
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0 <= blank < C:
        raise ValueError(f"blank must be a class index in 0..{C - 1}, got {blank}")
    targets, target_lengths, input_lengths, feasible = ctc_inputs(targets, target_lengths, input_lengths, B, T, C,
                                                                  blank, zero_infinity)
    logp = _log_softmax64(logits)                                                   # (B, T, C) float64
    ext, skip, S = _extend(targets, target_lengths, blank)                          # (B, S) labels, (B, S) bool
    emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (B, T, ext.shape[1])), axis=2)  # (B, T, S)
    alpha = _forward(emit, skip)                                                    # (T, B, S)
    bi = np.arange(B)
    last = alpha[np.maximum(input_lengths - 1, 0), bi]                              # (B, S)
    logprob = np.logaddexp(last[bi, S - 1], np.where(S >= 2, last[bi, np.maximum(S - 2, 0)], -np.inf))  # (B,)
    nll = np.where(feasible, -logprob, 0.0)
    scale = np.where(feasible, 1.0, 0.0)
    if reduction == "mean":
        scale = scale / np.maximum(target_lengths, 1) / B
    loss = float(np.sum(nll * scale) if reduction == "sum" else np.sum(nll / np.maximum(target_lengths, 1)) / B)
    cache = (logp, emit, alpha, np.where(feasible, logprob, 0.0), feasible, ext, skip, S, input_lengths, scale,
             logits.dtype)
    return loss, cache


def ctc_loss_backward(cache, dloss=1.0):
    """dlogits (B, T, C): dloss * scale_b * (softmax - posterior of each label at each frame)."""
    logp, emit, alpha, logprob, feasible, ext, skip, S, input_lengths, scale, dtype = cache
    B, T, C = logp.shape
    beta = _backward(emit, skip, S, input_lengths)                                  # (T, B, S)
    valid = ((np.arange(T)[:, None] < input_lengths[None, :]) & feasible[None, :])[:, :, None]   # (T, B, 1)
    occ = np.where(valid, np.exp(alpha + beta - logprob[None, :, None]), 0.0)       # (T, B, S) posteriors
    onehot = (ext[:, :, None] == np.arange(C)).astype(np.float64)                  # (B, S, C)
    post = np.matmul(occ.transpose(1, 0, 2), onehot)                                # (B, T, C)
    grad = np.exp(logp) * valid.transpose(1, 0, 2) - post
    grad *= (dloss * scale)[:, None, None]
    return grad.astype(dtype, copy=False)


def ctc_inputs(targets, target_lengths, input_lengths, B, T, C, blank=0, zero_infinity=False):
    """Checked CTC inputs: targets (B, L) int64 padded with the blank, target_lengths, input_lengths (B,),
    and which sequences can be aligned at all (B,) bool; ValueError for an impossible one unless zero_infinity.

    Shared by ctc_loss and the PyTorch twin, so both engines take and refuse the same inputs.
    """
    targets, target_lengths = _check_targets(targets, target_lengths, B, C, blank)
    input_lengths = _check_lengths("input_lengths", input_lengths, B, T)
    need = min_frames(targets, target_lengths)                                      # (B,)
    feasible = input_lengths >= need
    if not zero_infinity and not feasible.all():
        b = int(np.flatnonzero(~feasible)[0])
        raise ValueError(f"ctc_loss: sequence {b} has {input_lengths[b]} frames but its target of length "
                         f"{target_lengths[b]} needs at least {need[b]} (a blank between repeated labels); "
                         "give more frames, a shorter target, or zero_infinity=True")
    return targets, target_lengths, input_lengths, feasible


def min_frames(targets, target_lengths):
    """(B,) the fewest frames that can emit each target: its length plus its adjacent repeats."""
    targets = np.asarray(targets)
    if targets.ndim != 2 or targets.shape[1] < 2:
        return np.asarray(target_lengths, dtype=np.int64).copy()
    rep = (targets[:, 1:] == targets[:, :-1]) & (np.arange(1, targets.shape[1])[None, :] < target_lengths[:, None])
    return target_lengths + rep.sum(axis=1)


# ---------------------------------------------------------------------- recursions
def _forward(emit, skip):
    """alpha (T, B, S) from emissions emit (B, T, S) = log y_t(l'_s)."""
    B, T, Smax = emit.shape
    alpha = np.full((T, B, Smax), -np.inf)
    alpha[0, :, :2] = emit[:, 0, :2]
    for t in range(1, T):
        prev = alpha[t - 1]
        a = prev.copy()
        np.logaddexp(a[:, 1:], prev[:, :-1], out=a[:, 1:])
        np.logaddexp(a[:, 2:], np.where(skip[:, 2:], prev[:, :-2], -np.inf), out=a[:, 2:])
        alpha[t] = a + emit[:, t]
    return alpha


def _backward(emit, skip, S, input_lengths):
    """beta (T, B, S): log probability of finishing from (t, s), frame t's emission excluded."""
    B, T, Smax = emit.shape
    beta = np.full((T, B, Smax), -np.inf)
    bi = np.arange(B)
    end = np.full((B, Smax), -np.inf)
    end[bi, S - 1] = 0.0
    end[bi[S >= 2], (S - 2)[S >= 2]] = 0.0
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            nxt = beta[t + 1] + emit[:, t + 1]                  # (B, S)
            b = nxt.copy()
            np.logaddexp(b[:, :-1], nxt[:, 1:], out=b[:, :-1])
            np.logaddexp(b[:, :-2], np.where(skip[:, 2:], nxt[:, 2:], -np.inf), out=b[:, :-2])
            beta[t] = b
        at_end = t == input_lengths - 1                         # (B,) sequences whose last frame is t
        beta[t][at_end] = end[at_end]
        beta[t][t > input_lengths - 1] = -np.inf
    return beta


def _extend(targets, target_lengths, blank):
    """ext (B, Smax) = blank, l_1, blank, ..., l_L, blank (blank-padded); skip (B, Smax); S (B,) = 2L + 1."""
    B, L = targets.shape
    Smax = 2 * L + 1
    ext = np.full((B, Smax), blank, dtype=np.int64)
    ext[:, 1::2] = np.where(np.arange(L)[None, :] < target_lengths[:, None], targets, blank)
    skip = np.zeros((B, Smax), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip, 2 * target_lengths + 1


def _log_softmax64(logits):
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------------- argument checks
def _check_lengths(name, lengths, B, T):
    if lengths is None:
        return np.full(B, T, dtype=np.int64)
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"{name} must be {B} integers, got dtype {lengths.dtype} shape {lengths.shape}")
    if B and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"{name} must lie in 1..{T}, got values in [{lengths.min()}, {lengths.max()}]")
    return lengths.astype(np.int64)


def _check_targets(targets, target_lengths, B, C, blank):
    """(targets (B, L) int64 padded with blank, target_lengths (B,) int64)."""
    if hasattr(targets, "detach"):
        targets = targets.detach().cpu().numpy()
    if isinstance(targets, (list, tuple)) and (not targets or not np.isscalar(targets[0])):
        if len(targets) != B:
            raise ValueError(f"targets must hold {B} label sequences, got {len(targets)}")
        seqs = [np.asarray(t, dtype=np.int64).reshape(-1) for t in targets]
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        padded = np.full((B, max(1, int(lens.max()) if B else 1)), blank, dtype=np.int64)
        for i, s in enumerate(seqs):
            padded[i, :len(s)] = s
        targets = padded
        if target_lengths is None:
            target_lengths = lens
    targets = np.asarray(targets)
    if targets.ndim != 2 or targets.shape[0] != B or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer labels (B={B}, L) or a list of {B} sequences, "
                         f"got dtype {targets.dtype} shape {targets.shape}")
    if target_lengths is None:
        target_lengths = np.full(B, targets.shape[1], dtype=np.int64)
    target_lengths = np.asarray(target_lengths.detach().cpu().numpy() if hasattr(target_lengths, "detach")
                                else target_lengths)
    if target_lengths.shape != (B,) or not np.issubdtype(target_lengths.dtype, np.integer):
        raise ValueError(f"target_lengths must be {B} integers, got shape {target_lengths.shape}")
    if B and (target_lengths.min() < 0 or target_lengths.max() > targets.shape[1]):
        raise ValueError(f"target_lengths must lie in 0..{targets.shape[1]}, got values in "
                         f"[{target_lengths.min()}, {target_lengths.max()}]")
    used = np.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    bad = used & ((targets < 0) | (targets >= C) | (targets == blank))
    if bad.any():
        b, i = (int(j) for j in np.argwhere(bad)[0])
        raise ValueError(f"targets[{b}][{i}] = {int(targets[b, i])} must be a label in 0..{C - 1} other than "
                         f"the blank ({blank})")
    return targets.astype(np.int64), target_lengths.astype(np.int64)
