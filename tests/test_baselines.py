import math

from rnnlab.baselines import ngram_bpc, xz_bpc


def test_ngram_is_a_normalised_model_that_learns_structure():
    train = "abcabcabcabd" * 50
    # a perfectly predictable continuation costs far less than log2(alphabet)
    assert ngram_bpc(train, "abcabcabc", order=4) < 0.5
    # unseen characters still have a finite cost
    assert math.isfinite(ngram_bpc(train, "xyz", order=3))
    # probabilities over the alphabet sum to one: a 1-gram on uniform text costs log2(V)
    assert abs(ngram_bpc("ab" * 100, "ba" * 100, order=1) - 1.0) < 0.05


def test_xz_spends_few_bits_on_repeated_text():
    train = "the quick brown fox jumps over the lazy dog. " * 100
    assert xz_bpc(train, train[:500]) < 0.5
