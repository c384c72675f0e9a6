"""Parameter initialisations people use for recurrent networks."""
import numpy as np


def uniform_init(shape, bound, rng, dtype=np.float32):
    """U(-bound, bound): PyTorch's default for RNN/LSTM/GRU/Linear with bound = 1/sqrt(fan)."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def orthogonal(shape, rng, gain=1.0, dtype=np.float32):
    """A (rows, cols) matrix with orthonormal rows or columns (QR of a Gaussian, sign-fixed)."""
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).astype(dtype)


def orthogonal_recurrent_(layer, gain=1.0, rng=None):
    """Re-initialise every ``weight_hh`` of a recurrent layer gate-block-wise orthogonal, in place."""
    rng = layer.rng if rng is None else rng
    H = layer.hidden_size
    for name, w in layer.params.items():
        if name.startswith("weight_hh"):
            for g in range(w.shape[0] // H):
                w[g * H:(g + 1) * H] = orthogonal((H, H), rng, gain, w.dtype)
    return layer


def forget_bias_(layer, value=1.0):
    """Set the LSTM forget-gate bias (gate block 1 of i, f, g, o) to ``value``, in place.

    PyTorch has two biases; ``value`` goes to bias_ih and bias_hh gets 0, so the sum is ``value``.
    """
    if layer.mode != "LSTM":
        raise ValueError(f"forget-gate bias applies to an LSTM, not {type(layer).__name__}")
    H = layer.hidden_size
    for name, b in layer.params.items():
        if name.startswith("bias_ih"):
            b[H:2 * H] = value
        elif name.startswith("bias_hh"):
            b[H:2 * H] = 0.0
    return layer
