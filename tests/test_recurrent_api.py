"""Layer API behaviour: truncated BPTT, dropout, state_dict, bad input."""
import numpy as np
import pytest

from rnnlab import GRU, LSTM, RNN

from conftest import assert_close

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _rand_state(layer, B, rng):
    shape = (layer.num_layers * layer.num_directions, B, layer.hidden_size)
    if layer.mode == "LSTM":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_truncated_bptt_equals_one_pass(kind, layers):
    rng = np.random.default_rng(0)
    B, T, I, H, split = 3, 9, 4, 5, 4
    layer = CELLS[kind](I, H, num_layers=layers, dtype=np.float64, seed=1)
    x = rng.standard_normal((B, T, I))
    s0 = _rand_state(layer, B, rng)
    dy = rng.standard_normal((B, T, H))

    y, sT, cache = layer.forward(x, s0)
    dx, ds0, grads = layer.backward(dy, cache)

    y1, s1, c1 = layer.forward(x[:, :split], s0)
    y2, s2, c2 = layer.forward(x[:, split:], s1)
    dx2, ds1, g2 = layer.backward(dy[:, split:], c2)
    dx1, ds0_chunks, g1 = layer.backward(dy[:, :split], c1, dstate=ds1)

    assert_close("y", np.concatenate([y1, y2], axis=1), y, 1e-12)
    for a, b, name in zip(s2 if kind == "lstm" else [s2], sT if kind == "lstm" else [sT], ["h_n", "c_n"]):
        assert_close(name, a, b, 1e-12)
    assert_close("dx", np.concatenate([dx1, dx2], axis=1), dx, 1e-12)
    if kind == "lstm":
        assert_close("dh0", ds0_chunks[0], ds0[0], 1e-12)
        assert_close("dc0", ds0_chunks[1], ds0[1], 1e-12)
    else:
        assert_close("dh0", ds0_chunks, ds0, 1e-12)
    for name in grads:
        assert_close(name, g1[name] + g2[name], grads[name], 1e-12)


@pytest.mark.parametrize("kind", CELLS)
def test_dropout_is_seeded_and_only_in_training(kind):
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    layer = CELLS[kind](3, 4, num_layers=3, dropout=0.5, seed=0)
    a, _, _ = layer.forward(x, training=True, rng=np.random.default_rng(7))
    b, _, _ = layer.forward(x, training=True, rng=np.random.default_rng(7))
    c, _, _ = layer.forward(x, training=True, rng=np.random.default_rng(8))
    e1, _, _ = layer.forward(x)
    e2, _, _ = layer.forward(x, training=False, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(e1, e2)


def test_lengths_zero_padding_and_final_state():
    rng = np.random.default_rng(0)
    layer = LSTM(3, 4, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 6, 3))
    y, (h, c), _ = layer.forward(x, lengths=[6, 2])
    assert np.all(y[1, 2:] == 0)
    alone, (h1, _), _ = layer.forward(x[1:, :2])
    assert_close("y[1]", y[1, :2], alone[0], 1e-12)
    assert_close("h_n[:, 1]", h[:, 1], h1[:, 0], 1e-12)


def test_state_dict_round_trip_and_mismatch():
    a = GRU(3, 4, num_layers=2, bidirectional=True, seed=0)
    b = GRU(3, 4, num_layers=2, bidirectional=True, seed=1)
    b.load_state_dict(a.state_dict())
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    with pytest.raises(ValueError, match="missing keys.*unexpected keys"):
        LSTM(3, 4).load_state_dict(RNN(3, 4, num_layers=2).state_dict())
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l0'\] has shape \(12, 3\), expected \(16, 3\)"):
        LSTM(3, 4).load_state_dict(GRU(3, 4).state_dict())


def test_torch_tensors_load():
    torch = pytest.importorskip("torch")
    ref = torch.nn.LSTM(3, 4, num_layers=2)
    ours = LSTM(3, 4, num_layers=2)
    ours.load_state_dict(ref.state_dict())
    np.testing.assert_allclose(ours.params["weight_hh_l1"], ref.weight_hh_l1.detach().numpy())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda l: l.forward(np.zeros((2, 3), np.float32)), r"x must have 3 dimensions \(B, T, I\), got shape \(2, 3\)"),
        (lambda l: l.forward(np.zeros((2, 3, 5), np.float32)), r"x must have last dimension 4 .*got shape \(2, 3, 5\)"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.int64)), r"x must be a floating array of dtype float32, got dtype int64"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.float64)), r"x has dtype float64 but the parameters are float32"),
        (lambda l: l.forward(np.full((2, 3, 4), np.nan, np.float32)), r"x contains NaN or inf \(first at index \(0, 0, 0\)\)"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.float32), lengths=[3]), r"lengths must have shape \(2,\)"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.float32), lengths=[3, 0]), r"lengths\[1\] = 0: zero-length"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.float32), lengths=[4, 1]), r"lengths\[0\] = 4 exceeds the padded length T = 3"),
        (lambda l: l.forward(np.zeros((2, 3, 4), np.float32), lengths=[1.5, 1]), r"lengths must be integers"),
    ],
)
@pytest.mark.parametrize("kind", CELLS)
def test_bad_input_names_what_was_expected(kind, call, message):
    layer = CELLS[kind](4, 6)
    with pytest.raises(ValueError, match=message):
        call(layer)


def test_bad_state_shapes():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"state must have shape \(2, 2, 6\) \(L\*D, B, H\), got \(1, 2, 6\)"):
        GRU(4, 6, bidirectional=True).forward(x, state=np.zeros((1, 2, 6), np.float32))
    with pytest.raises(ValueError, match=r"state for an LSTM must be a tuple \(h, c\)"):
        LSTM(4, 6).forward(x, state=np.zeros((1, 2, 6), np.float32))
    with pytest.raises(ValueError, match=r"state\[1\] \(c\) must have shape \(1, 2, 6\)"):
        LSTM(4, 6).forward(x, state=(np.zeros((1, 2, 6), np.float32), np.zeros((1, 2, 5), np.float32)))
    layer = RNN(4, 6)
    _, _, cache = layer.forward(x)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3, 6\)"):
        layer.backward(np.zeros((2, 3, 5), np.float32), cache)


def test_constructor_validation():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="dropout must be in"):
        GRU(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNN(3, 4, nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", CELLS)
def test_backward_without_dx_gives_the_same_parameter_grads(kind):
    rng = np.random.default_rng(0)
    layer = CELLS[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 5, 3))
    y, _, cache = layer.forward(x, lengths=[5, 3])
    dy = rng.standard_normal(y.shape)
    dx, ds0, grads = layer.backward(dy, cache)
    none, ds0b, grads_b = layer.backward(dy, cache, need_dx=False)
    assert dx is not None and none is None
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads_b[name], err_msg=name)
