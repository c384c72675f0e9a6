"""Linear-chain CRF output layer (the "CRF" of a BiLSTM-CRF tagger), with a hand-written backward.

Parameters have the names and meaning of pytorch-crf's ``torchcrf.CRF``, so a state_dict moves
either way unchanged:

    start_transitions (K,)    score of starting in tag j
    end_transitions   (K,)    score of ending in tag j
    transitions       (K, K)  transitions[i, j] = score of moving from tag i to tag j

For one sequence of length L with emissions e (L, K) the score of a tag path y is

    s(y) = start[y_0] + e_0[y_0] + sum_{t=1}^{L-1} (trans[y_{t-1}, y_t] + e_t[y_t]) + end[y_{L-1}]

and p(y) = exp(s(y)) / Z. The forward algorithm gives log Z in log space:

    alpha_0 = start + e_0
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + e_t[j]        t = 1 .. L-1
    log Z = logsumexp_j(alpha_{L-1}[j] + end[j])

and the loss is nll = log Z - s(gold). The backward algorithm,

    beta_{L-1} = end
    beta_t[i] = logsumexp_j(trans[i, j] + e_{t+1}[j] + beta_{t+1}[j])

gives the marginals that make up the gradient (marginals minus gold counts):

    p_t(j)     = exp(alpha_t[j] + beta_t[j] - log Z)                                 d nll / d e_t[j]
    xi_t(i, j) = exp(alpha_{t-1}[i] + trans[i, j] + e_t[j] + beta_t[j] - log Z)     d nll / d trans, summed over t
    d start = p_0 - onehot(y_0)       d end = p_{L-1} - onehot(y_{L-1})

Batches are right-padded: mask (B, T) is True on the first L_b steps of row b and False after.
Padded steps leave alpha and beta unchanged and get zero gradient; their tags are never read.

    loss, cache = crf_nll(emissions, tags, mask, params)        # emissions (B, T, K), tags (B, T)
    demissions, grads = crf_nll_backward(1.0, cache)
    paths = viterbi_decode(emissions, mask, params)              # list of B lists of tag ids
"""
from dataclasses import dataclass

import numpy as np

from ..checks import check_array
from ..init import uniform_init

PARAM_NAMES = ("start_transitions", "end_transitions", "transitions")  # torchcrf.CRF's state_dict order
REDUCTIONS = ("mean", "sum", "none")


def init_crf_params(num_tags, rng=None, dtype=np.float32):
    """{start_transitions (K,), end_transitions (K,), transitions (K, K)}, each U(-0.1, 0.1) as pytorch-crf."""
    if not isinstance(num_tags, (int, np.integer)) or isinstance(num_tags, bool) or num_tags < 1:
        raise ValueError(f"num_tags must be a positive integer, got {num_tags!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    rng = np.random.default_rng() if rng is None else rng
    K = int(num_tags)
    shapes = {"start_transitions": (K,), "end_transitions": (K,), "transitions": (K, K)}
    return {name: uniform_init(shapes[name], 0.1, rng, dtype) for name in PARAM_NAMES}


# ---------------------------------------------------------------------------------- validation
def _check_params(params):
    """Return (start, end, trans, K) after checking names, shapes and a common float dtype."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict with keys {PARAM_NAMES}, got {type(params).__name__}")
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {PARAM_NAMES}")
    trans = check_array("transitions", params["transitions"], ndim=2, shape_doc="(K, K)")
    K = trans.shape[0]
    trans = check_array("transitions", trans, shape=(K, K), shape_doc="(K, K)")
    if trans.dtype not in (np.float32, np.float64):
        raise ValueError(f"transitions must be float32 or float64, got dtype {trans.dtype}")
    start = check_array("start_transitions", params["start_transitions"], shape=(K,), shape_doc="(K,)",
                        dtype=trans.dtype)
    end = check_array("end_transitions", params["end_transitions"], shape=(K,), shape_doc="(K,)",
                      dtype=trans.dtype)
    return start, end, trans, K


def _check_inputs(emissions, mask, K, dtype):
    """emissions (B, T, K) of the params' dtype; mask (B, T) right-padded with mask[:, 0] all True."""
    emissions = check_array("emissions", emissions, ndim=3, last=K, dtype=dtype, shape_doc="(B, T, K)")
    B, T, _ = emissions.shape
    if B < 1 or T < 1:
        raise ValueError(f"emissions must have B >= 1 and T >= 1 (B, T, K), got shape {emissions.shape}")
    if mask is None:
        return emissions, np.ones((B, T), dtype=bool)
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.shape != (B, T):
        raise ValueError(f"mask must have shape ({B}, {T}) (B, T), got {mask.shape}")
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.integer) and np.isin(mask, (0, 1)).all()):
            raise ValueError(f"mask must be boolean (or 0/1 integers), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if not mask[:, 0].all():
        b = int(np.argmin(mask[:, 0]))
        raise ValueError(f"mask[:, 0] must be all True (every sequence has length >= 1), but mask[{b}, 0] is False")
    gaps = ~mask[:, :-1] & mask[:, 1:]
    if gaps.any():
        b, t = (int(i) for i in np.argwhere(gaps)[0])
        raise ValueError(f"mask must be right-padded (True then False), but mask[{b}, {t}] is False "
                         f"and mask[{b}, {t + 1}] is True")
    return emissions, mask


def _check_tags(tags, mask, K):
    """tags (B, T) of integers in [0, K) on the valid steps (padded steps are ignored)."""
    if hasattr(tags, "detach"):
        tags = tags.detach().cpu().numpy()
    tags = np.asarray(tags)
    if tags.shape != mask.shape:
        raise ValueError(f"tags must have shape {mask.shape} (B, T), got {tags.shape}")
    if not np.issubdtype(tags.dtype, np.integer):
        raise ValueError(f"tags must be integers, got dtype {tags.dtype}")
    bad = mask & ((tags < 0) | (tags >= K))
    if bad.any():
        b, t = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"tags[{b}, {t}] = {tags[b, t]} is out of range [0, {K}) for K = {K} tags")
    return np.where(mask, tags, 0).astype(np.int64)   # padded tags become 0 so indexing is safe


# ---------------------------------------------------------------------------------- log space
def _logsumexp(a, axis):
    """log sum exp over ``axis``, shifted by the max; rows that are all -inf give -inf, not NaN."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(a.dtype)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


@dataclass
class CRFCache:
    """What crf_nll_backward needs from one crf_nll call."""

    emissions: np.ndarray    # (B, T, K)
    tags: np.ndarray         # (B, T) int64, 0 on padded steps
    mask: np.ndarray         # (B, T) bool
    lengths: np.ndarray      # (B,) number of valid steps
    alpha: np.ndarray        # (T, B, K) forward log scores; held constant over padded steps
    log_z: np.ndarray        # (B,)
    start: np.ndarray        # (K,)
    end: np.ndarray          # (K,)
    trans: np.ndarray        # (K, K)
    reduction: str


def crf_nll(emissions, tags, mask, params, reduction="mean"):
    """Negative log-likelihood of the gold tags: log Z - s(tags), per sequence then reduced.

    emissions (B, T, K), tags (B, T) int, mask (B, T) bool or None (= all valid).
    reduction: "mean" (over the batch, as pytorch-crf), "sum", or "none" -> (B,).
    Returns (loss, cache); loss has the emissions' dtype.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    start, end, trans, K = _check_params(params)
    emissions, mask = _check_inputs(emissions, mask, K, trans.dtype)
    tags = _check_tags(tags, mask, K)
    B, T, _ = emissions.shape
    lengths = mask.sum(axis=1)                                 # (B,)
    rows = np.arange(B)

    # forward algorithm, batched; a padded step keeps the previous alpha
    alpha = np.empty((T, B, K), dtype=emissions.dtype)
    alpha[0] = start + emissions[:, 0]                         # (B, K)
    for t in range(1, T):
        nxt = _logsumexp(alpha[t - 1][:, :, None] + trans, axis=1) + emissions[:, t]   # (B, K)
        alpha[t] = np.where(mask[:, t, None], nxt, alpha[t - 1])
    log_z = _logsumexp(alpha[T - 1] + end, axis=1)             # (B,)

    # gold path score; padded steps contribute nothing
    m = mask.astype(emissions.dtype)
    gold = start[tags[:, 0]] + end[tags[rows, lengths - 1]]
    gold = gold + (np.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0] * m).sum(axis=1)
    gold = gold + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(axis=1)

    nll = log_z - gold                                         # (B,)
    if reduction == "mean":
        loss = nll.mean()
    elif reduction == "sum":
        loss = nll.sum()
    else:
        loss = nll
    cache = CRFCache(emissions, tags, mask, lengths, alpha, log_z, start, end, trans, reduction)
    return loss, cache


def crf_nll_backward(dloss, cache):
    """dloss (scalar, or (B,) for reduction="none") -> (demissions (B, T, K), {name: dparam}).

    Runs the backward algorithm, then d nll = marginals - gold counts, weighted per sequence.
    """
    em, tags, mask, L = cache.emissions, cache.tags, cache.mask, cache.lengths
    start, end, trans = cache.start, cache.end, cache.trans
    B, T, K = em.shape
    dloss = np.asarray(dloss, dtype=em.dtype)
    if cache.reduction == "none":
        if dloss.shape != (B,):
            raise ValueError(f"dloss must have shape ({B},) for reduction='none', got {dloss.shape}")
        w = dloss
    else:
        if dloss.shape != ():
            raise ValueError(f"dloss must be a scalar for reduction={cache.reduction!r}, got shape {dloss.shape}")
        w = np.full(B, dloss / B if cache.reduction == "mean" else dloss, dtype=em.dtype)   # (B,)

    # backward algorithm (in the reverse order of the forward pass); beta stays at `end` past the last step
    beta = np.empty((T, B, K), dtype=em.dtype)
    beta[T - 1] = end
    for t in range(T - 2, -1, -1):
        nxt = _logsumexp(trans + (em[:, t + 1] + beta[t + 1])[:, None, :], axis=2)        # (B, K)
        beta[t] = np.where(mask[:, t + 1, None], nxt, beta[t + 1])

    log_z = cache.log_z[:, None]                               # (B, 1)
    m = mask.astype(em.dtype)
    wm = w[:, None] * m                                        # (B, T) per-step weight, 0 on padding
    rows = np.arange(B)

    # unary marginals minus gold one-hots
    p = np.exp(cache.alpha + beta - log_z).transpose(1, 0, 2)  # (B, T, K)
    gold = np.zeros((B, T, K), dtype=em.dtype)
    np.put_along_axis(gold, tags[:, :, None], 1.0, axis=2)
    demissions = (p - gold) * wm[:, :, None]

    dstart = w @ (p[:, 0] - gold[:, 0])
    last = L - 1
    dend = w @ (p[rows, last] - gold[rows, last])

    # pairwise marginals minus gold transition counts, one step at a time (B, K, K)
    dtrans = np.zeros((K, K), dtype=em.dtype)
    for t in range(1, T):
        if not mask[:, t].any():
            break
        xi = np.exp(cache.alpha[t - 1][:, :, None] + trans + (em[:, t] + beta[t] - log_z)[:, None, :])
        dtrans += np.einsum("b,bij->ij", wm[:, t], xi)
        np.add.at(dtrans, (tags[:, t - 1], tags[:, t]), -wm[:, t])

    grads = {"start_transitions": dstart, "end_transitions": dend, "transitions": dtrans}
    return demissions, grads


# ---------------------------------------------------------------------------------- decoding
def bio_transition_mask(labels):
    """For BIO labels ("O", "B-X", "I-X"): (allowed_transitions (K, K) bool, allowed_starts (K,) bool).

    I-X may only follow B-X or I-X, and may not start a sequence; everything else is allowed.
    """
    labels = list(labels)
    if not all(isinstance(s, str) for s in labels):
        raise ValueError("labels must be strings such as 'O', 'B-PER', 'I-PER'")
    K = len(labels)
    allowed = np.ones((K, K), dtype=bool)
    starts = np.ones(K, dtype=bool)
    for j, to in enumerate(labels):
        if to.startswith("I-"):
            starts[j] = False
            for i, frm in enumerate(labels):
                allowed[i, j] = frm in ("B-" + to[2:], to)
    return allowed, starts


def viterbi_decode(emissions, mask, params, allowed_transitions=None, allowed_starts=None):
    """Best tag path per sequence: argmax_y s(y), by max-product dynamic programming.

    emissions (B, T, K), mask (B, T) or None. Optional constraints (e.g. from bio_transition_mask):
    allowed_transitions (K, K) bool and allowed_starts (K,) bool; disallowed moves score -inf.
    Returns a list of B lists of tag ids, each of its sequence's valid length.
    """
    start, end, trans, K = _check_params(params)
    emissions, mask = _check_inputs(emissions, mask, K, trans.dtype)
    if allowed_transitions is not None:
        allowed = np.asarray(allowed_transitions)
        if allowed.shape != (K, K) or allowed.dtype != bool:
            raise ValueError(f"allowed_transitions must be a boolean array of shape ({K}, {K}), "
                             f"got {allowed.dtype} {allowed.shape}")
        trans = np.where(allowed, trans, -np.inf)
    if allowed_starts is not None:
        allowed = np.asarray(allowed_starts)
        if allowed.shape != (K,) or allowed.dtype != bool:
            raise ValueError(f"allowed_starts must be a boolean array of shape ({K},), "
                             f"got {allowed.dtype} {allowed.shape}")
        start = np.where(allowed, start, -np.inf)
    B, T, _ = emissions.shape

    score = start + emissions[:, 0]                            # (B, K) best score ending in each tag
    history = np.zeros((T, B, K), dtype=np.int64)              # history[t, b, j] = best previous tag
    for t in range(1, T):
        cand = score[:, :, None] + trans                       # (B, K, K) from i to j
        history[t] = cand.argmax(axis=1)
        nxt = cand.max(axis=1) + emissions[:, t]
        score = np.where(mask[:, t, None], nxt, score)
    score = score + end
    if not np.isfinite(score.max(axis=1)).all():
        b = int(np.argmin(np.isfinite(score.max(axis=1))))
        raise ValueError(f"no tag path of sequence {b} satisfies the transition constraints")

    paths = []
    for b, L in enumerate(mask.sum(axis=1)):
        best = [int(score[b].argmax())]
        for t in range(int(L) - 1, 0, -1):
            best.append(int(history[t, b, best[-1]]))
        paths.append(best[::-1])
    return paths
