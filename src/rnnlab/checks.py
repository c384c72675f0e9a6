"""Input validation that turns bad shapes and values into one-line ValueErrors."""
import numpy as np


def check_array(name, a, ndim=None, shape=None, last=None, dtype=None, shape_doc="", finite=True):
    """Return ``a`` as an ndarray of ``dtype`` or raise ValueError naming what was expected and what came."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except Exception as e:  # noqa: BLE001 - anything unconvertible is a bad input
            raise ValueError(f"{name} must be an array {shape_doc}, got {type(a).__name__}: {e}") from None
    doc = f" {shape_doc}" if shape_doc else ""
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{doc}, got shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{doc}, got {a.shape}")
    if last is not None and a.shape[-1] != last:
        raise ValueError(f"{name} must have last dimension {last}{doc}, got shape {a.shape}")
    if dtype is not None and a.dtype != dtype:
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{name} must be a floating array of dtype {np.dtype(dtype)}, got dtype {a.dtype}")
        raise ValueError(f"{name} has dtype {a.dtype} but the parameters are {np.dtype(dtype)}; "
                         f"cast it with .astype(np.{np.dtype(dtype)})")
    if finite and a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return a


def check_lengths(lengths, B, T):
    """lengths (B,) of integers in [1, T]."""
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    lengths = np.asarray(lengths)
    if lengths.shape != (B,):
        raise ValueError(f"lengths must have shape ({B},) (one per sequence), got {lengths.shape}")
    if lengths.size and not np.issubdtype(lengths.dtype, np.integer):
        if not (np.issubdtype(lengths.dtype, np.floating) and np.all(lengths == np.round(lengths))):
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    lengths = lengths.astype(np.int64)
    if lengths.size and lengths.min() < 1:
        i = int(np.argmin(lengths))
        raise ValueError(f"lengths[{i}] = {lengths[i]}: zero-length (or negative) sequences are not allowed")
    if lengths.size and lengths.max() > T:
        i = int(np.argmax(lengths))
        raise ValueError(f"lengths[{i}] = {lengths[i]} exceeds the padded length T = {T}")
    return lengths
