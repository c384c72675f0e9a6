"""Beam search for the encoder-decoder model, with GNMT's length penalty.

    results = beam_search(model, src, beam=5, bos=1, eos=2, max_len=50, length_penalty=0.6, n_best=3)

Every step extends each live hypothesis by every token and keeps the k best by
cumulative log-probability log P(y_1..y_t | x), k = beam - (number finished): a
hypothesis that emits eos leaves the beam and the beam shrinks (the "K completed
hypotheses" scheme). It stops when every slot has finished or after max_len steps,
when the still-live hypotheses join the finished ones unfinished. The finished
ones are then ranked by

    score = log P(Y | x) / lp(Y),     lp(Y) = ((5 + |Y|) / 6) ** alpha       (Wu et al. 2016, GNMT)

where |Y| counts the generated tokens including eos and alpha = ``length_penalty``
(0: plain log-probability). The penalty only ranks finished hypotheses; it never
changes which ones survive a step, so beam=1 is exactly greedy decoding.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Hypothesis:
    tokens: list            # target ids without bos; ends with eos when finished
    logprob: float          # log P(tokens | source), summed in float64
    score: float            # logprob / lp(len(tokens)), what hypotheses are ranked by
    attention: object       # (len(tokens), source length) weights, or None without attention
    finished: bool          # False when max_len cut it off before eos


def length_penalty(length, alpha):
    """GNMT's lp = ((5 + length) / 6) ** alpha (1 when alpha = 0)."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model, src, src_lengths=None, *, bos, eos, beam=4, max_len=100, length_penalty=0.0, n_best=1):
    """Beam search for one source (1-D ids) or a padded batch (B, S) with src_lengths.

    Returns, for a 1-D source, its n_best hypotheses, best first; for a batch, one such
    list per source. Each source is searched on its own (unpadded), so a sentence gets the
    same result alone as inside a padded batch.
    """
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ValueError(f"beam must be a positive integer, got {beam!r}")
    if isinstance(n_best, bool) or not isinstance(n_best, (int, np.integer)) or not 1 <= n_best <= beam:
        raise ValueError(f"n_best must be an integer in [1, beam={beam}], got {n_best!r}")
    if not np.isfinite(length_penalty) or length_penalty < 0:
        raise ValueError(f"length_penalty (alpha) must be a finite number >= 0, got {length_penalty!r}")
    model._check_decode_args(bos, eos, max_len)
    one = np.ndim(src) == 1
    if one:
        if src_lengths is not None:
            raise ValueError("src_lengths is for a padded batch (B, S); a 1-D source uses its full length")
        src = np.asarray(src)[None, :]
    src, lengths = model._check_src(src, src_lengths)
    results = [_search(model, src[b:b + 1, :lengths[b]], int(beam), bos, eos, max_len, float(length_penalty),
                       int(n_best)) for b in range(src.shape[0])]
    return results[0] if one else results


def _search(model, src, beam, bos, eos, max_len, alpha, n_best):
    memory, state = model.encode(src)                        # batch of 1
    V = model.config.tgt_vocab
    tokens, rows = [[]], [[]]                                # per live hypothesis
    logps = np.zeros(1)                                      # (n,) cumulative log-probabilities
    last = np.array([bos], dtype=np.int64)
    finished = []
    for step in range(max_len):
        n = len(tokens)
        logp, state, w = model.decode_step(last, state, model.select_memory(memory, np.zeros(n, dtype=np.int64)))
        cand = logps[:, None] + logp                         # (n, V)
        k = beam - len(finished)
        # best cumulative score first; ties go to the better step log-prob, then the lower index,
        # so a beam of one picks exactly the argmax of greedy decoding
        order = np.lexsort((-logp.ravel(), -cand.ravel()))[:k]
        keep, new_tokens, new_rows, new_logps = [], [], [], []
        for idx in order:
            parent, tok = divmod(int(idx), V)
            t = tokens[parent] + [tok]
            r = rows[parent] + ([w[parent]] if w is not None else [])
            lp = float(cand[parent, tok])
            if tok == eos or step == max_len - 1:
                finished.append(_hyp(t, lp, r, alpha, tok == eos))
            else:
                keep.append(parent)
                new_tokens.append(t)
                new_rows.append(r)
                new_logps.append(lp)
        if not keep:
            break
        state = model.select_state(state, np.array(keep))
        tokens, rows, logps = new_tokens, new_rows, np.array(new_logps)
        last = np.array([t[-1] for t in tokens], dtype=np.int64)
    finished.sort(key=lambda h: -h.score)                    # stable: equal scores keep their order
    return finished[:n_best]


def _hyp(tokens, logprob, rows, alpha, done):
    attn = np.array(rows) if rows else None
    return Hypothesis(tokens, logprob, logprob / length_penalty(len(tokens), alpha), attn, done)
