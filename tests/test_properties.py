"""Property-based checks (hypothesis): padding never changes a sequence's result."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import GRU, LSTM, RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(sorted(CELLS)), bidirectional=st.booleans(), layers=st.integers(1, 2),
       lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), pad=st.integers(0, 3), seed=st.integers(0, 10**6))
def test_padded_batch_equals_each_sequence_alone(kind, bidirectional, layers, lengths, pad, seed):
    rng = np.random.default_rng(seed)
    layer = CELLS[kind](3, 4, num_layers=layers, bidirectional=bidirectional, dtype=np.float64, seed=seed % 97)
    T = max(lengths) + pad
    x = rng.standard_normal((len(lengths), T, 3))
    y, state, _ = layer.forward(x, lengths=lengths)
    h = state[0] if kind == "lstm" else state
    for b, n in enumerate(lengths):
        alone, s1, _ = layer.forward(x[b:b + 1, :n])
        h1 = s1[0] if kind == "lstm" else s1
        np.testing.assert_allclose(y[b, :n], alone[0], atol=1e-12)
        assert not y[b, n:].any(), "padded outputs must be 0"
        np.testing.assert_allclose(h[:, b], h1[:, 0], atol=1e-12)
