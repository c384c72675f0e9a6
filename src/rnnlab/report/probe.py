"""Watching a model's recurrent layer while the model runs its own forward and backward.

    with watch(model.rnn) as seen:
        model.loss_and_grads(..., training=False)
    seen.x, seen.state, seen.lengths    what the layer was given      x (B, T, I)
    seen.y                              what it returned              (B, T, D*H)
    seen.dy, seen.dstate                the gradient the model's loss sent back into it

The model is used as it is, head and loss included, so what the report shows is what
that model computes; nothing about a task's architecture is repeated here.
"""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass
class Seen:
    x: np.ndarray | None = None
    state: object = None
    lengths: np.ndarray | None = None
    y: np.ndarray | None = None
    dy: np.ndarray | None = None
    dstate: object = None
    calls: int = 0


def _copy(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(np.array(s) for s in state)
    return np.array(state)


@contextmanager
def watch(layer):
    """Record the first forward call of ``layer`` (run without dropout) and the backward call that follows."""
    seen = Seen()
    forward, backward = layer.forward, layer.backward

    def watched_forward(x, state=None, lengths=None, training=False, rng=None):
        y, final, cache = forward(x, state, lengths, False, rng)
        if seen.calls == 0:
            seen.x, seen.state, seen.y = np.array(x), _copy(state), np.array(y)
            seen.lengths = None if lengths is None else np.asarray(lengths)
        seen.calls += 1
        return y, final, cache

    def watched_backward(dy, cache, dstate=None, need_dx=True):
        if seen.dy is None:
            seen.dy, seen.dstate = np.array(dy), _copy(dstate)
        return backward(dy, cache, dstate, need_dx)

    layer.forward, layer.backward = watched_forward, watched_backward
    try:
        yield seen
    finally:
        del layer.forward, layer.backward
