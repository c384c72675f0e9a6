"""A fully connected layer, y = x W^T + b, with PyTorch's names and initialisation.

Applied to the hidden states of a recurrent layer this is the article's Why
(hidden -> output): the recurrent layer owns Wxh and Whh, the model's output
``Linear`` maps every h_t to the logits.

    layer = Linear(H, V)
    y, cache = layer.forward(h)          # h (..., H) -> y (..., V)
    dh, grads = layer.backward(dy, cache)

Backward:
    dx = dy W        dweight = dy^T x (summed over every leading position)
    dbias = sum of dy over every leading position
"""
import numpy as np

from ..checks import check_array
from ..init import uniform_init
from .module import Module


class Linear(Module):
    """y = x @ weight.T + bias.

    weight (out_features, in_features), bias (out_features,), both U(-1/sqrt(in), 1/sqrt(in))
    as torch.nn.Linear, so a PyTorch ``state_dict`` loads without transposes.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, seed=None):
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.in_features, self.out_features, self.bias, self.dtype = int(in_features), int(out_features), bool(bias), dtype
        self.rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(in_features)
        self.params = {name: uniform_init(shape, bound, self.rng, dtype) for name, shape in self.param_shapes().items()}

    def param_shapes(self):
        """Ordered {name: shape} exactly as torch.nn.Linear.state_dict()."""
        shapes = {"weight": (self.out_features, self.in_features)}
        if self.bias:
            shapes["bias"] = (self.out_features,)
        return shapes

    def forward(self, x):
        """x (..., I) -> y (..., O), cache."""
        if np.ndim(x) == 0:
            raise ValueError(f"x must have shape (..., {self.in_features}), got a scalar")
        x = check_array("x", x, last=self.in_features, dtype=self.dtype, shape_doc="(..., in_features)")
        y = rows_matmul(x, self.params["weight"].T)     # (..., O)
        if self.bias:
            y += self.params["bias"]
        return y, x

    def __call__(self, x):
        return self.forward(x)

    def backward(self, dy, cache):
        """dy (..., O) -> dx (..., I), grads {weight, bias}."""
        x = cache
        dy = check_array("dy", dy, shape=x.shape[:-1] + (self.out_features,), dtype=self.dtype,
                         shape_doc="(..., out_features)")
        dy2 = dy.reshape(-1, self.out_features)         # (N, O)
        x2 = x.reshape(-1, self.in_features)            # (N, I)
        dx = rows_matmul(dy, self.params["weight"])     # (..., I)
        grads = {"weight": dy2.T @ x2}                  # (O, I)
        if self.bias:
            grads["bias"] = np.ones(dy2.shape[0], dtype=dy2.dtype) @ dy2   # (O,): BLAS, 2-3x faster than .sum(axis=0)
        return dx, grads

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias})"


def rows_matmul(a, W):
    """a (..., K) @ W (K, N) -> (..., N) as one GEMM over all leading axes (a 3-D ``a @ W``
    would run one small GEMM per leading index)."""
    return (a.reshape(-1, a.shape[-1]) @ W).reshape(a.shape[:-1] + (W.shape[1],))
