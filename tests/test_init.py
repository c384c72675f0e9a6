import numpy as np
import pytest

from rnnlab import GRU, LSTM
from rnnlab.init import forget_bias_, orthogonal, orthogonal_recurrent_


def test_default_init_is_pytorch_uniform():
    layer = GRU(10, 25, num_layers=2, seed=0)
    bound = 1 / np.sqrt(25)
    for name, w in layer.params.items():
        assert np.abs(w).max() <= bound, name
        assert np.abs(w).max() > 0.9 * bound, name


def test_orthogonal_and_forget_bias():
    q = orthogonal((6, 4), np.random.default_rng(0), dtype=np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-12)
    layer = orthogonal_recurrent_(LSTM(3, 5, num_layers=2, dtype=np.float64, seed=0))
    for name, w in layer.params.items():
        if name.startswith("weight_hh"):
            for g in range(4):
                block = w[g * 5:(g + 1) * 5]
                np.testing.assert_allclose(block @ block.T, np.eye(5), atol=1e-12, err_msg=name)
    forget_bias_(layer, 1.0)
    for k in range(2):
        b = layer.params[f"bias_ih_l{k}"] + layer.params[f"bias_hh_l{k}"]
        np.testing.assert_array_equal(b[5:10], 1.0)
    with pytest.raises(ValueError, match="forget-gate bias applies to an LSTM"):
        forget_bias_(GRU(3, 5))
