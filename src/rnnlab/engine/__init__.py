"""Pure forward/backward functions for one recurrent direction over a whole sequence.

Every module here exposes the same functions, in processing order
(time-major; a reverse direction is run by flipping its input first):

    y, state_T, cache = forward(x, state_0, params, mask=None)
    dx, dstate_0, grads = backward(dy, dstate_T, cache, need_dx=True)   # need_dx=False: dx is None
    h_t, state_t = step(x_t, state, params)        # inference, one step, no cache
    xp = project(x, params); step_projected(xp[t], state, params)   # the same, input product done ahead

x: (T, B, I); y: (T, B, H); x_t: (B, I); state: h (B, H), or (h, c) for the LSTM.
mask: (T, B, 1) of 0/1 or None. Where the mask is 0 the state is carried
through unchanged and the output is 0 (right-padded sequences; the reverse
direction sees them left-padded and so starts at each sequence's last valid step).
params: dict with keys W_ih, W_hh, b_ih, b_hh (PyTorch layouts, gates stacked
along the first axis). grads: the same keys.

The elementwise work between the matrix products runs on a selectable backend:
``set_backend("numba_loops")`` (the default when numba is installed on a CPU without AVX-512: fused compiled
kernels, and each direction's time loop compiled with its per-step BLAS products),
``set_backend("numba_gemm")`` (the default on a CPU with AVX-512: the same loops with rnnlab's
own matrix product, and the LSTM's batch split between threads), ``set_backend("numba")`` (the
same kernels, called from a Python loop per step) or ``set_backend("numpy")``; see ``_backend``.
``set_num_threads(n)`` sets the threads of the BLAS and of numba together.
"""
from . import gru, lstm, rnn
from ._backend import BACKENDS, get_backend, set_backend, set_num_threads, use_backend

_MODES = {"RNN_TANH": rnn, "RNN_RELU": rnn, "LSTM": lstm, "GRU": gru}


def engine_cell(mode):
    """The engine module of a layer mode ("RNN_TANH", "RNN_RELU", "LSTM" or "GRU")."""
    return _MODES[mode]


__all__ = ["engine_cell", "rnn", "lstm", "gru", "set_backend", "get_backend", "use_backend", "set_num_threads",
           "BACKENDS"]
