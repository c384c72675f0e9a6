"""Multi-layer, optionally bidirectional recurrent layers: RNN, LSTM and GRU.

A layer holds parameters only (PyTorch's names, shapes and gate orders) and loops
the pure per-direction functions of ``rnnlab.engine`` over layers and directions:

    layer = LSTM(input_size, hidden_size, num_layers=2, bidirectional=True)
    y, state, cache = layer.forward(x, state=None, lengths=None, training=False)
    dx, dstate0, grads = layer.backward(dy, cache, dstate=None)

The returned ``y`` may share memory with the cache: treat it as read-only.

Shapes (batch first, as ``batch_first=True`` in PyTorch):
    x (B, T, I)    y (B, T, D*H), forward direction in the first H columns
    state: h (L*D, B, H); for the LSTM a tuple (h, c); index l*D + d
D = 2 if bidirectional else 1, L = num_layers.
"""
from dataclasses import dataclass

import numpy as np

from .. import engine
from ..checks import check_array, check_lengths
from ..init import uniform_init
from .module import Module

_CELLS = engine._MODES


@dataclass
class _Cache:
    """What backward needs from one forward call."""

    dir_caches: list        # [layer][direction] engine caches
    drop_masks: list        # [layer] dropout mask applied to that layer's output, or None
    x_shape: tuple          # (B, T, I)


class _Recurrent(Module):
    mode = None  # set by subclasses

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False,
                 dropout=0.0, bias=True, dtype=np.float32, seed=None):
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bidirectional, self.dropout, self.bias, self.dtype = bool(bidirectional), float(dropout), bool(bias), dtype
        self.num_directions = 2 if bidirectional else 1
        self.gates = _CELLS[self.mode].GATES
        self.rng = np.random.default_rng(seed)
        self.params = {}
        for name, shape in self.param_shapes().items():
            self.params[name] = uniform_init(shape, 1.0 / np.sqrt(hidden_size), self.rng, dtype)

    # ------------------------------------------------------------------ parameters
    def param_shapes(self):
        """Ordered {name: shape} exactly as torch.nn.<RNN|LSTM|GRU>.state_dict()."""
        H, G, D = self.hidden_size, self.gates * self.hidden_size, self.num_directions
        shapes = {}
        for k in range(self.num_layers):
            in_k = self.input_size if k == 0 else D * H
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                shapes["weight_ih" + sfx] = (G, in_k)
                shapes["weight_hh" + sfx] = (G, H)
                if self.bias:
                    shapes["bias_ih" + sfx] = (G,)
                    shapes["bias_hh" + sfx] = (G,)
        return shapes

    def _dir_params(self, k, d):
        sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
        p = self.params
        return {"W_ih": p["weight_ih" + sfx], "W_hh": p["weight_hh" + sfx],
                "b_ih": p.get("bias_ih" + sfx), "b_hh": p.get("bias_hh" + sfx)}, sfx

    # ------------------------------------------------------------------ forward
    def forward(self, x, state=None, lengths=None, training=False, rng=None):
        """x (B, T, I) -> y (B, T, D*H), final state, cache. See the module docstring."""
        x = check_array("x", x, ndim=3, last=self.input_size, dtype=self.dtype, shape_doc="(B, T, I)")
        B, T, _ = x.shape
        state = self._check_state("state", state, B)
        mask = None
        if lengths is not None:
            lengths = check_lengths(lengths, B, T)
            if lengths.min() < T:
                mask = (np.arange(T)[:, None] < lengths[None, :]).astype(self.dtype)[:, :, None]  # (T, B, 1)
        rng = self.rng if rng is None else rng
        D, H = self.num_directions, self.hidden_size
        step = _CELLS[self.mode]
        kw = {"nonlinearity": "relu"} if self.mode == "RNN_RELU" else {}
        inp = np.ascontiguousarray(x.transpose(1, 0, 2))   # (T, B, I) time-major
        h_n, c_n = [], []
        dir_caches, drop_masks = [], []
        for k in range(self.num_layers):
            out = np.empty((T, B, D * H), dtype=self.dtype) if D == 2 else None
            layer_caches = []
            for d in range(D):
                params, _ = self._dir_params(k, d)
                idx = k * D + d
                s0 = self._initial(state, idx, B)
                xin, m = (inp, mask) if d == 0 else (inp[::-1], None if mask is None else mask[::-1])
                y, sT, cache = step.forward(xin, s0, params, mask=m, **kw)
                if D == 1:
                    out = y   # no copy: y is kept by the cache too, so callers must not modify it in place
                else:
                    out[:, :, d * H:(d + 1) * H] = y if d == 0 else y[::-1]
                layer_caches.append(cache)
                if self.mode == "LSTM":
                    h_n.append(sT[0]); c_n.append(sT[1])
                else:
                    h_n.append(sT)
            dir_caches.append(layer_caches)
            drop = None
            if training and self.dropout > 0 and k < self.num_layers - 1:
                keep = 1.0 - self.dropout
                drop = (rng.random(out.shape) < keep).astype(self.dtype) / keep
                out = out * drop
            drop_masks.append(drop)
            inp = out
        y = inp.transpose(1, 0, 2)                       # (B, T, D*H) view
        h_n = np.stack(h_n)
        final = (h_n, np.stack(c_n)) if self.mode == "LSTM" else h_n
        return y, final, _Cache(dir_caches, drop_masks, x.shape)

    def __call__(self, x, state=None, lengths=None, training=False, rng=None):
        return self.forward(x, state, lengths, training, rng)

    # ------------------------------------------------------------------ backward
    def backward(self, dy, cache, dstate=None, need_dx=True):
        """dy (B, T, D*H), dstate like the final state or None -> dx (B, T, I), dstate0, grads.

        ``need_dx=False`` skips the input gradient of the first layer (dx is None), as
        PyTorch does for an input that does not require grad.
        """
        B, T, _ = cache.x_shape
        D, H = self.num_directions, self.hidden_size
        dy = check_array("dy", dy, shape=(B, T, D * H), dtype=self.dtype, shape_doc="(B, T, D*H)")
        dstate = None if dstate is None else self._check_state("dstate", dstate, B)
        step = _CELLS[self.mode]
        grads = {}
        d_out = dy.transpose(1, 0, 2)                    # (T, B, D*H) view: each cell copies it once, as it needs
        dh0 = np.zeros((self.num_layers * D, B, H), dtype=self.dtype)
        dc0 = np.zeros_like(dh0) if self.mode == "LSTM" else None
        for k in reversed(range(self.num_layers)):
            if cache.drop_masks[k] is not None:
                d_out = d_out * cache.drop_masks[k]
            d_in = None
            for d in range(D):
                idx = k * D + d
                dyd = d_out[:, :, d * H:(d + 1) * H]
                if d == 1:
                    dyd = dyd[::-1]
                dsT = self._initial(dstate, idx, B, zeros_as_none=True)
                want_dx = need_dx or k > 0
                dx, ds0, g = step.backward(dyd, dsT, cache.dir_caches[k][d], need_dx=want_dx)
                if want_dx:
                    if d == 1:
                        dx = dx[::-1]
                    if d_in is None:
                        d_in = dx                  # a fresh array of the engine's: safe to add into
                    else:
                        d_in += dx
                if self.mode == "LSTM":
                    dh0[idx], dc0[idx] = ds0
                else:
                    dh0[idx] = ds0
                _, sfx = self._dir_params(k, d)
                grads["weight_ih" + sfx] = g["W_ih"]
                grads["weight_hh" + sfx] = g["W_hh"]
                if self.bias:
                    grads["bias_ih" + sfx] = g["b_ih"]
                    grads["bias_hh" + sfx] = g["b_hh"]
            d_out = d_in
        dx = None if d_out is None else np.ascontiguousarray(d_out.transpose(1, 0, 2))
        grads = {name: grads[name] for name in self.params}   # PyTorch's order
        return dx, ((dh0, dc0) if self.mode == "LSTM" else dh0), grads

    # ------------------------------------------------------------------ helpers
    def zero_state(self, batch_size):
        h = np.zeros((self.num_layers * self.num_directions, batch_size, self.hidden_size), dtype=self.dtype)
        return (h, h.copy()) if self.mode == "LSTM" else h

    def _check_state(self, name, state, B):
        if state is None:
            return None
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        doc = "(L*D, B, H)"
        if self.mode == "LSTM":
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError(f"{name} for an LSTM must be a tuple (h, c) of arrays {shape}, got {type(state).__name__}")
            return (check_array(f"{name}[0] (h)", state[0], shape=shape, dtype=self.dtype, shape_doc=doc),
                    check_array(f"{name}[1] (c)", state[1], shape=shape, dtype=self.dtype, shape_doc=doc))
        if isinstance(state, (tuple, list)):
            raise ValueError(f"{name} for {type(self).__name__} must be one array {shape}, got a {type(state).__name__}")
        return check_array(name, state, shape=shape, dtype=self.dtype, shape_doc=doc)

    def _initial(self, state, idx, B, zeros_as_none=False):
        """The (h) or (h, c) of layer/direction idx from a stacked state; zeros if state is None."""
        if state is None:
            if zeros_as_none:
                return None
            z = np.zeros((B, self.hidden_size), dtype=self.dtype)
            return (z, z.copy()) if self.mode == "LSTM" else z
        if self.mode == "LSTM":
            return (state[0][idx], state[1][idx])
        return state[idx]

    def __repr__(self):
        extra = ", bidirectional=True" if self.bidirectional else ""
        extra += f", dropout={self.dropout}" if self.dropout else ""
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}{extra})"


class RNN(_Recurrent):
    """Elman RNN: h_t = tanh(Wxh x_t + b_ih + Whh h_{t-1} + b_hh) (``nonlinearity="relu"`` for ReLU).

    Wxh is ``weight_ih_l{k}`` (H, I), Whh is ``weight_hh_l{k}`` (H, H); Why is the
    model's output ``Linear``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bidirectional=False,
                 dropout=0.0, bias=True, dtype=np.float32, seed=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout, bias, dtype, seed)


class LSTM(_Recurrent):
    """LSTM with PyTorch's gate order (i, f, g, o); see ``rnnlab.engine.lstm`` for the equations."""

    mode = "LSTM"


class GRU(_Recurrent):
    """GRU with PyTorch's gate order (r, z, n) and n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    mode = "GRU"

