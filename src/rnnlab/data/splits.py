"""Deterministic train/val/test splits, length-bucketed batches and padding.

    split(items, (0.8, 0.1, 0.1), seed=0)   -> (train, val, test) lists, shuffled by seed
    split_contiguous(seq, (0.9, 0.05, 0.05)) -> consecutive slices (char-LM text)
    bucket_batches(lengths, 32, seed=0)      -> list of int64 index arrays, similar lengths together
    pad_batch(id_lists, pad=0)               -> ids (B, T) right-padded, lengths (B,)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _boundaries(n: int, fractions: Sequence[float]) -> list[int]:
    """Cut points [0, c1, ..., n] for parts of size ~ fraction * n (rounded, summing to n)."""
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) == 0 or np.any(fr < 0) or abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {tuple(fractions)}")
    cuts = np.round(np.cumsum(fr) * n).astype(int)
    cuts[-1] = n
    return [0] + cuts.tolist()


def split(items: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> tuple[list, ...]:
    """Shuffle `items` with `seed` and cut them into len(fractions) lists.

    Same items, fractions and seed -> same split. Part sizes are
    round(cumulative fraction * n) differences, so they always sum to n.
    """
    n = len(items)
    order = np.random.default_rng(seed).permutation(n)
    cuts = _boundaries(n, fractions)
    return tuple([items[i] for i in order[a:b]] for a, b in zip(cuts[:-1], cuts[1:]))


def split_contiguous(seq: Sequence, fractions: Sequence[float] = (0.9, 0.05, 0.05)) -> tuple:
    """Consecutive slices of `seq` (a str gives str parts): the usual split for a char-LM corpus."""
    cuts = _boundaries(len(seq), fractions)
    return tuple(seq[a:b] for a, b in zip(cuts[:-1], cuts[1:]))


def bucket_batches(lengths: Sequence[int], batch_size: int, seed: int | Sequence[int] = 0,
                   shuffle: bool = True) -> list[np.ndarray]:
    """Group indices of sequences of similar length into batches of at most batch_size.

    Indices are sorted by length (ties broken at random when shuffle, by index
    otherwise), cut into consecutive batches (the last may be smaller), and
    the batch order is shuffled when shuffle. Every index appears exactly once.
    seed may be a sequence of ints (e.g. [seed, epoch]) for per-epoch orders.
    Returns a list of (b,) int64 arrays, b <= batch_size.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(seed)
    if shuffle:
        order = np.lexsort((rng.random(len(lengths)), lengths))
    else:
        order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size].astype(np.int64) for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_batch(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """List of id lists -> ids (B, T) right-padded with ``pad``, lengths (B,) int64."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    ids = np.full((len(seqs), max(1, int(lengths.max()))), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
    return ids, lengths
