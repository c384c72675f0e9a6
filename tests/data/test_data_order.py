"""order.py: the word-order task is deterministic, balanced, and invisible to a bag of words."""
from collections import Counter, defaultdict

import pytest

from rnnlab.data import MixedTokenizer, make_order_dataset
from rnnlab.data.order import NAMES, QUALITIES, order_label, order_sentence


def test_examples_read_as_intended():
    bob, tom = [i for i, (en, _) in enumerate(NAMES) if en in ("Bob", "Tom")]
    assert order_sentence(bob, tom, 0, True, "en") == "Bob is stronger than Tom"
    assert order_sentence(bob, tom, 0, True, "zh") == "鲍勃比汤姆强壮"
    assert order_sentence(tom, bob, 0, False, "zh") == "汤姆比鲍勃虚弱"
    assert order_label(bob, tom, more=True) == "A"   # Bob (alphabetically first) is stronger
    assert order_label(tom, bob, more=True) == "B"   # Tom is stronger
    assert order_label(tom, bob, more=False) == "A"  # Tom is weaker, so Bob is stronger


def test_pools_are_distinct():
    assert len(NAMES) >= 20 and len({en for en, _ in NAMES}) == len({zh for _, zh in NAMES}) == len(NAMES)
    assert len({q[0] for q in QUALITIES}) == len(QUALITIES)


def test_deterministic_and_both_languages():
    a = make_order_dataset(500, seed=7)
    assert a == make_order_dataset(500, seed=7) and a != make_order_dataset(500, seed=8)
    assert {("比" in t) for t, _ in a} == {True, False}
    assert all("比" not in t for t, _ in make_order_dataset(50, seed=0, languages=("en",)))
    with pytest.raises(ValueError):
        make_order_dataset(5, languages=("fr",))


def test_swapping_names_keeps_the_bag_and_flips_the_label():
    tok = MixedTokenizer()
    for lang in ("en", "zh"):
        for q in range(len(QUALITIES)):
            for more in (True, False):
                for i, j in [(0, 5), (3, 17), (22, 1)]:
                    s, t = order_sentence(i, j, q, more, lang), order_sentence(j, i, q, more, lang)
                    assert Counter(tok.tokenize(s)) == Counter(tok.tokenize(t))
                    assert order_label(i, j, more) != order_label(j, i, more)


def test_best_bag_of_words_classifier_is_at_chance():
    data = make_order_dataset(20_000, seed=0)
    tok = MixedTokenizer()
    by_bag = defaultdict(Counter)
    for text, label in data:
        by_bag[frozenset(Counter(tok.tokenize(text)).items())][label] += 1
    # even the bag-of-words classifier fitted on the very data it is scored on gains little
    best = sum(max(c.values()) for c in by_bag.values()) / len(data)
    counts = Counter(label for _, label in data)
    assert abs(counts["A"] / len(data) - 0.5) < 0.02
    # Every bag holds both orders with equal probability; the in-sample optimum only
    # profits from sampling noise in small bags (here ~2.8 examples per bag).
    expected_noise = sum(n_optimum(sum(c.values())) for c in by_bag.values()) / len(data)
    assert best == pytest.approx(expected_noise, abs=0.02)


def n_optimum(n):
    """Expected max(k, n-k) for k ~ Binomial(n, 1/2): the in-sample score of a coin-flip bag."""
    from math import comb
    return sum(comb(n, k) * max(k, n - k) for k in range(n + 1)) / 2 ** n
