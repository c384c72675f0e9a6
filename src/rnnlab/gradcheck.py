"""Check hand-written gradients against central finite differences along random directions.

    errors = check_grads(loss_fn, params, grads)     # params: the arrays loss_fn reads, perturbed in place
    errors = check_layer_grads(layer, x, state=h0, lengths=lengths, training=True, rng=rng)

For every named array p and a random unit direction v (same shape as p):

    numeric  = (loss(p + eps v) - loss(p - eps v)) / (2 eps)
    analytic = sum(grad * v)

and |numeric - analytic| must be within atol + rtol * max(|numeric|, |analytic|)
plus the round-off of the difference quotient (a few ulps of the loss / eps).
A failure raises AssertionError naming the tensor. This only works in float64:
with eps = 1e-6, float32's round-off (1e-7 relative) swamps the difference.
"""
import numpy as np


def check_grads(loss_fn, params, grads, eps=1e-6, n_directions=4, rtol=1e-5, atol=1e-8, seed=0):
    """Compare ``grads`` with finite differences of ``loss_fn()`` in each array of ``params``.

    loss_fn: no arguments, returns a scalar; it must read the arrays in ``params``, which are
    perturbed in place and restored bit for bit afterwards. params, grads: {name: float64 ndarray},
    grads has every name of params with the same shape.
    Returns {name: largest relative error |num - ana| / (atol + max(|num|, |ana|)) over the directions}.
    """
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            raise ValueError(f"check_grads needs float64 arrays; {name!r} is "
                             f"{getattr(p, 'dtype', type(p).__name__)} (build the layer with dtype=np.float64)")
        if name not in grads:
            raise ValueError(f"no gradient given for {name!r}")
        if np.shape(grads[name]) != p.shape:
            raise ValueError(f"gradient of {name!r} has shape {np.shape(grads[name])}, the array has {p.shape}")
    f0 = _scalar(loss_fn())
    if _scalar(loss_fn()) != f0:
        raise ValueError("loss_fn() returned different values for the same inputs; make it deterministic "
                         "(e.g. reset the random generator used for dropout before every call)")
    rng = np.random.default_rng(seed)
    errors = {}
    for name, p in params.items():
        g = np.asarray(grads[name], dtype=np.float64)
        worst = 0.0
        if p.size == 0:
            errors[name] = worst
            continue
        orig = p.copy()
        for k in range(n_directions):
            v = rng.standard_normal(p.shape)
            v /= np.linalg.norm(v)
            try:
                p[...] = orig + eps * v
                f_plus = _scalar(loss_fn())
                p[...] = orig - eps * v
                f_minus = _scalar(loss_fn())
            finally:
                p[...] = orig
            num = (f_plus - f_minus) / (2 * eps)
            ana = float(np.sum(g * v))
            diff = abs(num - ana)
            scale = max(abs(num), abs(ana))
            roundoff = 16 * np.finfo(np.float64).eps * max(abs(f_plus), abs(f_minus), abs(f0)) / eps
            rel = diff / (atol + scale)
            worst = max(worst, rel)
            if not diff <= atol + rtol * scale + roundoff:
                raise AssertionError(
                    f"gradient of {name!r} {p.shape} is wrong: along random direction {k} finite differences "
                    f"give {num:.10e}, backward gives {ana:.10e} (abs error {diff:.3e}, rel error {rel:.3e} "
                    f"> rtol {rtol:.0e})")
        errors[name] = worst
    return errors


def check_layer_grads(layer, x, state=None, *, check_x=True, eps=1e-6, n_directions=4, rtol=1e-5, atol=1e-8,
                      seed=0, **forward_kwargs):
    """Finite-difference check of any rnnlab layer's backward: dx, dstate0 and every parameter gradient.

    Works with the layer interfaces of rnnlab:
        y, cache = layer.forward(x)                   dx, grads = layer.backward(dy, cache)    (Linear)
                                                      grads = layer.backward(dy, cache)        (Embedding)
        y, state, cache = layer.forward(x, state=..., **kw)
                                  dx, dstate0, grads = layer.backward(dy, cache, dstate)       (RNN/LSTM/GRU)
    The loss is a fixed random projection sum(y * Py) (+ sum(state_T * Ps) for recurrent layers).
    ``forward_kwargs`` go to every forward call (lengths, training, rng, ...). Every
    np.random.Generator among them, and ``layer.rng``, is reset to its current state before
    each call, so dropout draws the same mask every time. Integer inputs (token ids) are not
    differentiated. The layer must be float64. Returns check_grads' {name: rel error}.
    """
    x = np.array(x, copy=True)
    if state is not None:
        state = tuple(np.array(s, copy=True) for s in state) if isinstance(state, (tuple, list)) \
            else np.array(state, copy=True)
    kwargs = dict(forward_kwargs)
    if state is not None:
        kwargs["state"] = state
    rngs = [v for v in forward_kwargs.values() if isinstance(v, np.random.Generator)]
    if isinstance(getattr(layer, "rng", None), np.random.Generator):
        rngs.append(layer.rng)
    saved = [r.bit_generator.state for r in rngs]

    def run():
        for r, s in zip(rngs, saved):
            r.bit_generator.state = s
        return layer.forward(x, **kwargs)

    out = run()
    recurrent = len(out) == 3
    y, final = out[0], (out[1] if recurrent else None)
    final = _as_tuple(final)
    proj = np.random.default_rng(seed + 1_000_003)
    py = proj.standard_normal(np.shape(y))
    ps = tuple(proj.standard_normal(np.shape(s)) for s in final)

    def loss_fn():
        out = run()
        total = float(np.sum(out[0] * py))
        if recurrent:
            total += sum(float(np.sum(s * p)) for s, p in zip(_as_tuple(out[1]), ps))
        return total

    cache = out[-1]
    if recurrent:
        dstate = None if not ps else (ps if isinstance(out[1], tuple) else ps[0])
        back = layer.backward(py.copy(), cache, dstate)
    else:
        back = layer.backward(py.copy(), cache)
    if isinstance(back, dict):
        dx, dstate0, grads = None, None, back
    elif len(back) == 2:
        (dx, grads), dstate0 = back, None
    else:
        dx, dstate0, grads = back

    arrays, analytic = {}, {}
    if check_x and dx is not None and np.issubdtype(x.dtype, np.floating):
        arrays["x"], analytic["x"] = x, dx
    if state is not None and dstate0 is not None:
        names = ("h0", "c0") if isinstance(state, tuple) else ("h0",)
        for name, s, ds in zip(names, _as_tuple(state), _as_tuple(dstate0)):
            arrays[name], analytic[name] = s, ds
    for name, p in layer.params.items():
        arrays[name], analytic[name] = p, grads[name]
    return check_grads(loss_fn, arrays, analytic, eps=eps, n_directions=n_directions, rtol=rtol, atol=atol,
                       seed=seed)


def _as_tuple(s):
    if s is None:
        return ()
    return tuple(s) if isinstance(s, (tuple, list)) else (s,)


def _scalar(v):
    a = np.asarray(v)
    if a.size != 1:
        raise ValueError(f"loss_fn must return a scalar, got an array of shape {a.shape}")
    f = float(a.reshape(()))
    if not np.isfinite(f):
        raise ValueError(f"loss_fn returned {f}")
    return f
