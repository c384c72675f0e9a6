"""The gradient checker accepts right gradients, rejects wrong ones and leaves the arrays as it found them."""
import numpy as np
import pytest

from rnnlab.gradcheck import check_grads, check_layer_grads
from rnnlab.layers import RNN, Linear


def problem(seed=0):
    """f(A, b) = sum(tanh(A @ X + b) * P) with its exact gradients."""
    rng = np.random.default_rng(seed)
    A, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    X, P = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))

    def loss_fn():
        return float(np.sum(np.tanh(A @ X + b) * P))

    da = P * (1 - np.tanh(A @ X + b) ** 2)            # (3, 5)
    return loss_fn, {"A": A, "b": b}, {"A": da @ X.T, "b": da.sum(axis=1, keepdims=True)}


def test_accepts_the_right_gradient_and_restores_arrays():
    loss_fn, params, grads = problem()
    before = {k: v.copy() for k, v in params.items()}
    errors = check_grads(loss_fn, params, grads)
    assert set(errors) == {"A", "b"}
    assert max(errors.values()) < 1e-7
    for k in params:
        assert params[k].tobytes() == before[k].tobytes(), f"{k} not restored bit for bit"


@pytest.mark.parametrize("corrupt", ["scale", "one_entry", "transposed_sign"])
def test_rejects_a_wrong_gradient(corrupt):
    loss_fn, params, grads = problem(1)
    before = params["A"].copy()
    if corrupt == "scale":
        grads["A"] = grads["A"] * 1.001
    elif corrupt == "one_entry":
        grads["A"] = grads["A"].copy()
        grads["A"][2, 1] += 0.05
    else:
        grads["b"] = -grads["b"]
    name = "b" if corrupt == "transposed_sign" else "A"
    with pytest.raises(AssertionError, match=f"gradient of '{name}'"):
        check_grads(loss_fn, params, grads)
    assert params["A"].tobytes() == before.tobytes()


def test_restores_arrays_when_loss_fn_raises():
    A = np.arange(4.0)
    calls = []

    def loss_fn():
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("boom")
        return float(A.sum())

    with pytest.raises(RuntimeError, match="boom"):
        check_grads(loss_fn, {"A": A}, {"A": np.ones(4)})
    assert A.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_refuses_float32_nondeterminism_and_missing_grads():
    loss_fn, params, grads = problem()
    with pytest.raises(ValueError, match="float64"):
        check_grads(loss_fn, {"A": params["A"].astype(np.float32)}, grads)
    with pytest.raises(ValueError, match="no gradient given for 'b'"):
        check_grads(loss_fn, params, {"A": grads["A"]})
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="deterministic"):
        check_grads(lambda: loss_fn() + rng.random(), params, grads)
    with pytest.raises(ValueError, match="scalar"):
        check_grads(lambda: np.ones(2), params, grads)


class _LinearWithoutBiasGrad(Linear):
    def backward(self, dy, cache):
        dx, grads = super().backward(dy, cache)
        return dx, {**grads, "bias": np.zeros_like(grads["bias"])}


class _RNNIgnoringFinalStateGrad(RNN):
    """A classic BPTT bug: the gradient flowing into the final hidden state is dropped."""

    def backward(self, dy, cache, dstate=None):
        return super().backward(dy, cache, None)


def test_layer_check_catches_buggy_layers():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.raises(AssertionError, match="gradient of 'bias'"):
        check_layer_grads(_LinearWithoutBiasGrad(4, 3, dtype=np.float64, seed=0), x)
    with pytest.raises(AssertionError, match="gradient of '(x|h0|weight_hh_l0|weight_ih_l0|bias_ih_l0)'"):
        check_layer_grads(_RNNIgnoringFinalStateGrad(4, 5, dtype=np.float64, seed=0), x, np.zeros((1, 2, 5)))


def test_layer_check_resets_the_dropout_generator():
    rnn = RNN(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    rng = np.random.default_rng(7)
    check_layer_grads(rnn, x, training=True, rng=rng)          # explicit generator
    check_layer_grads(rnn, x, training=True)                   # the layer's own generator
