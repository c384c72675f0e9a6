"""splits.py: seeded splits and length buckets."""
import numpy as np
import pytest

from rnnlab.data import bucket_batches, split, split_contiguous


def test_split_is_deterministic_disjoint_and_complete():
    items = [f"s{i}" for i in range(103)]
    train, val, test = split(items, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(val), len(test)) == (82, 11, 10)  # cuts at round(82.4), round(92.7)
    assert sorted(train + val + test) == sorted(items)
    assert (train, val, test) == split(items, (0.8, 0.1, 0.1), seed=3)
    assert split(items, seed=4)[0] != train


def test_split_fraction_checks_and_edge_sizes():
    assert split([], (0.5, 0.5)) == ([], [])
    assert split([1], (0.8, 0.1, 0.1)) == ([1], [], [])
    with pytest.raises(ValueError, match="sum to 1"):
        split([1, 2], (0.8, 0.1))
    with pytest.raises(ValueError, match="non-negative"):
        split([1, 2], (1.2, -0.2))


def test_split_contiguous_keeps_order():
    assert split_contiguous("abcdefghij", (0.8, 0.1, 0.1)) == ("abcdefgh", "i", "j")


def test_bucket_batches_covers_every_index_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=257)
    batches = bucket_batches(lengths, batch_size=16, seed=1)
    assert all(b.dtype == np.int64 and 1 <= len(b) <= 16 for b in batches)
    assert sorted(np.concatenate(batches).tolist()) == list(range(257))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 10  # random batches of 16 would span ~85
    again = bucket_batches(lengths, batch_size=16, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_bucket_batches_without_shuffle_is_sorted_and_stable():
    batches = bucket_batches([3, 1, 2, 1], batch_size=2, shuffle=False)
    assert [b.tolist() for b in batches] == [[1, 3], [2, 0]]
    with pytest.raises(ValueError):
        bucket_batches([1], batch_size=0)
