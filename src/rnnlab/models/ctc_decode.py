"""Decoding per-frame CTC label distributions into label sequences.

    greedy_decode(logp, blank=0)                   -> [labels]               best path, collapsed
    prefix_beam_search(logp, beam=4, blank=0)      -> [(labels, log p), ...] n-best, most probable first
    prefix_beam_search(logp, 4, lexicon=Lexicon(words, labels))   # only words of a word list

logp is (T, C) log-probabilities of one utterance (its valid frames only).

Greedy (best path) takes the most probable label at every frame, merges repeats and
drops blanks. Prefix beam search keeps the ``beam`` most probable label *prefixes*; the
probability of a prefix sums every path that collapses to it, kept as two parts, paths
ending in a blank (p_b) and in its last label (p_nb):

    extend by blank:           p_b(l)      += (p_b(l) + p_nb(l)) y_t(blank)
    repeat the last label a:   p_nb(l)     += p_nb(l) y_t(a)
    append c != a:             p_nb(l + c) += (p_b(l) + p_nb(l)) y_t(c)
    append c == a:             p_nb(l + a) += p_b(l) y_t(a)        (a blank must separate them)

A returned score is log(p_b + p_nb) over the paths the beam kept: the exact log p(l | x)
once the beam holds every prefix (a wide beam, short input). With beam 1 the search keeps
the single most probable prefix at each frame; when every frame's most probable label has
probability above 3/4 (as in a trained model's output) that is the best path's collapse,
so beam 1 equals greedy there.

A ``Lexicon`` constrains the search to a word list: with character labels a prefix may only
grow into the start of a listed word, a space may only follow a whole listed word, and the
n-best prefer transcripts whose last word is complete; with word labels only listed words are
written.
"""
import math

import numpy as np

_NEG = -math.inf


def greedy_decode(logp, blank=0):
    """The best path's labels: argmax per frame, repeats merged, blanks dropped."""
    best = np.asarray(logp).argmax(axis=-1)
    out, prev = [], None
    for k in best.tolist():
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def _lse(a, b):
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    m = a if a > b else b
    return m + math.log1p(math.exp(-abs(a - b)))


class Lexicon:
    """The words a beam search may write. labels: the output labels (index -> string); level: "char" or "word"."""

    def __init__(self, words, labels, level="char", space=" "):
        self.words, self.labels, self.level, self.space = set(words), list(labels), level, space
        self.prefixes = {w[:i] for w in self.words for i in range(len(w) + 1)}

    def _partial(self, prefix):
        """The characters of the word the prefix (label ids) is in the middle of."""
        chars = []
        for k in reversed(prefix):
            if self.labels[k] == self.space:
                break
            chars.append(self.labels[k])
        return "".join(reversed(chars))

    def allows(self, prefix, c):
        """May the label sequence ``prefix`` grow by label ``c``?"""
        if self.level == "word":
            return self.labels[c] in self.words
        if self.labels[c] == self.space:
            return self._partial(prefix) in self.words
        return self._partial(prefix) + self.labels[c] in self.prefixes

    def complete(self, prefix):
        """Does the label sequence end between words or with a whole listed word?"""
        if self.level == "word":
            return True
        last = self._partial(prefix)
        return not last or last in self.words


def prefix_beam_search(logp, beam=4, blank=0, lexicon=None):
    """The ``beam`` most probable label sequences [(labels list, log probability)], best first."""
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    logp = np.asarray(logp, dtype=np.float64)
    C = logp.shape[1]
    beams = {(): (0.0, _NEG)}                                  # prefix -> (log p_b, log p_nb)
    for row in logp.tolist():
        nxt = {}
        y_blank = row[blank]
        for prefix, (pb, pnb) in beams.items():
            total = _lse(pb, pnb)
            b, nb = nxt.get(prefix, (_NEG, _NEG))
            b = _lse(b, total + y_blank)
            if prefix:
                nb = _lse(nb, pnb + row[prefix[-1]])
            nxt[prefix] = (b, nb)
            for c in range(C):
                if c == blank or (lexicon is not None and not lexicon.allows(prefix, c)):
                    continue
                grown = prefix + (c,)
                gb, gnb = nxt.get(grown, (_NEG, _NEG))
                gnb = _lse(gnb, (pb if prefix and c == prefix[-1] else total) + row[c])
                nxt[grown] = (gb, gnb)
        ranked = sorted(((p, s) for p, s in nxt.items() if _lse(*s) > _NEG), key=lambda kv: -_lse(*kv[1]))
        beams = dict(ranked[:beam])            # a prefix no path reaches (probability 0) is never kept
    ranked = sorted(beams.items(), key=lambda kv: -_lse(*kv[1]))
    if lexicon is not None:                    # whole words first
        ranked = [kv for kv in ranked if lexicon.complete(kv[0])] + [kv for kv in ranked if not lexicon.complete(kv[0])]
    return [(list(p), _lse(*s)) for p, s in ranked]
