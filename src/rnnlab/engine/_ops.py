"""Small in-place elementwise helpers shared by the cells."""
import numpy as np


def sigmoid_(a):
    """In-place logistic sigmoid through tanh: sigma(a) = (1 + tanh(a/2)) / 2.

    Stable for large |a| (no exp overflow) and one transcendental per element.
    """
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def input_projection(x, W, b):
    """All time steps' input projections in one GEMM: (T, B, I) -> (T, B, G)."""
    T, B, I = x.shape
    out = np.matmul(x.reshape(T * B, I), W.T).reshape(T, B, W.shape[0])
    if b is not None:
        out += b
    return out


def weight_grads(dA, inputs, W_shape):
    """dW = sum_t dA_t^T inputs_t as a single GEMM over all T*B rows."""
    G = dA.shape[-1]
    K = inputs.shape[-1]
    return np.matmul(dA.reshape(-1, G).T, inputs.reshape(-1, K))
