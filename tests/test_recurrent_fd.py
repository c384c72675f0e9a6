"""RNN (tanh, relu), LSTM and GRU backward passes agree with finite differences; no torch needed.

Every case checks dx, the initial-state gradient (when a state is given) and every
parameter gradient along random directions, in float64.
"""
import itertools

import numpy as np
import pytest

from rnnlab.gradcheck import check_layer_grads
from rnnlab.layers import GRU, LSTM, RNN

KINDS = ["rnn", "rnn_relu", "lstm", "gru"]


def make(kind, I, H, L, bidir, dropout, seed):
    kw = dict(num_layers=L, bidirectional=bidir, dropout=dropout, dtype=np.float64, seed=seed)
    if kind == "rnn_relu":
        return RNN(I, H, nonlinearity="relu", **kw)
    return {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](I, H, **kw)


def inputs(kind, layer, seed, use_lengths, use_state, B=3, T=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, layer.input_size))
    lengths = np.array([T, 2, 4][:B]) if use_lengths else None
    state = None
    if use_state:
        shape = (layer.num_layers * layer.num_directions, B, layer.hidden_size)
        state = (rng.standard_normal(shape), rng.standard_normal(shape)) if kind == "lstm" else rng.standard_normal(shape)
    return x, lengths, state


def expected_names(layer, use_state, kind):
    names = {"x"} | set(layer.params)
    if use_state:
        names |= {"h0", "c0"} if kind == "lstm" else {"h0"}
    return names


CASES = list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("kind,L,bidir,use_lengths,use_state", CASES)
def test_finite_differences(kind, L, bidir, use_lengths, use_state):
    seed = CASES.index((kind, L, bidir, use_lengths, use_state))
    layer = make(kind, 3, 4, L, bidir, 0.0, seed)
    x, lengths, state = inputs(kind, layer, seed + 100, use_lengths, use_state)
    errors = check_layer_grads(layer, x, state, lengths=lengths, seed=seed)
    assert set(errors) == expected_names(layer, use_state, kind)


DROPOUT_CASES = list(itertools.product(KINDS, [False, True], [False, True]))


@pytest.mark.parametrize("kind,bidir,use_lengths", DROPOUT_CASES)
def test_finite_differences_with_dropout(kind, bidir, use_lengths):
    seed = DROPOUT_CASES.index((kind, bidir, use_lengths))
    layer = make(kind, 3, 4, 2, bidir, 0.4, seed)
    x, lengths, state = inputs(kind, layer, seed + 200, use_lengths, True)
    # dropout is really on: two generators give two different outputs
    y1 = layer.forward(x, state, lengths, training=True, rng=np.random.default_rng(1))[0].copy()
    y2 = layer.forward(x, state, lengths, training=True, rng=np.random.default_rng(2))[0]
    assert not np.allclose(y1, y2)
    errors = check_layer_grads(layer, x, state, lengths=lengths, training=True,
                               rng=np.random.default_rng(seed), seed=seed)
    assert set(errors) == expected_names(layer, True, kind)
