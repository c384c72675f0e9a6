"""The optimizer's per-element work in one compiled pass (used by ``rnnlab.optim`` unless the engine runs "numpy").

NumPy's Adam step is a chain of about ten ufuncs, each a pass over the parameter with a temporary; on an
embedding of 20k words x 100 that chain, not the network, was most of a classifier's training step. Here each
element is read and written once, with the same equations in the same order as ``optim.Adam`` (and so as
torch.optim.Adam). The scalars arrive in the arrays' dtype, so float32 parameters are updated in float32.

Arrays are flat (``p.reshape(-1)`` of a C-contiguous parameter) and all of one dtype.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def adam(p, g, m, v, vmax, b1, b2, l2, keep, step_size, bc2_sqrt, eps):
    """One Adam / AdamW step over flat arrays, in place:

        p = keep * p                         (AdamW's decoupled decay: keep = 1 - lr * weight_decay; else 1)
        g = g + l2 * p_old                   (Adam's L2 weight decay; 0 for AdamW)
        m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2        (vmax = max(vmax, v) when vmax is not empty)
        p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
    """
    one = b1 - b1 + 1
    amsgrad = vmax.size > 0
    for i in range(p.size):
        pi = p[i]
        gi = g[i] + l2 * pi
        mi = b1 * m[i] + (one - b1) * gi
        vi = b2 * v[i] + (one - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vmax[i] > vi:
                vi = vmax[i]
            vmax[i] = vi
        p[i] = keep * pi - step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def sum_squares(g):
    """sum(g ** 2) of a flat array, accumulated in float64 (summed in any order: lanes of a vector)."""
    s = 0.0
    for i in range(g.size):
        x = np.float64(g[i])
        s += x * x
    return s
