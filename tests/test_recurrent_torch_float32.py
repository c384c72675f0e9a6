"""float32 layers equal PyTorch's float32 layers, on every backend and every per-step product form.

The shapes pick the engine's branches: B = 3 (LSTM batch-major), B = 16 with H = 256 (the flipped
per-step products of the RNN and GRU; the LSTM's feature-major path), B = 40 (feature-major, no flip).
Each case is a 2-layer bidirectional layer with lengths and an initial state, so masks, reversed
directions and dstate all take part. float32 rounding differs between the two libraries (BLAS
kernels, the numba backends' rational tanh), hence a tolerance relative to each tensor's scale.
"""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import GRU, LSTM, RNN  # noqa: E402
from rnnlab.engine import use_backend  # noqa: E402

from test_recurrent_torch import BACKENDS, TORCH, torch_run  # noqa: E402

SHAPES = [(3, 8), (16, 256), (40, 12)]            # (B, H)
RTOL = 2e-5


def _close(name, got, want):
    scale = max(1.0, float(np.max(np.abs(want))))
    diff = float(np.max(np.abs(got - want)))
    assert diff <= RTOL * scale, f"{name}: max abs diff {diff:.3e} > {RTOL:.0e} x {scale:.3g}"


@pytest.mark.parametrize("backend,kind,shape", list(itertools.product(BACKENDS, ["rnn", "lstm", "gru"], SHAPES)))
def test_float32_matches_torch(backend, kind, shape):
    B, H = shape
    T, I, L, D = 5, 7, 2, 2
    ours = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](I, H, num_layers=L, bidirectional=True, dtype=np.float32,
                                                        seed=3)
    ref = TORCH[kind](I, H, num_layers=L, bidirectional=True, batch_first=True)
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(B + H)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    sshape = (L * D, B, H)
    rand = lambda: rng.standard_normal(sshape).astype(np.float32)  # noqa: E731
    state = (rand(), rand()) if kind == "lstm" else rand()
    dstate = (rand(), rand()) if kind == "lstm" else rand()
    dy = rng.standard_normal((B, T, D * H)).astype(np.float32)
    dy *= (np.arange(T)[None, :] < lengths[:, None])[:, :, None]

    with use_backend(backend):
        y, fin, cache = ours.forward(x, state, lengths)
        dx, dstate0, grads = ours.backward(dy, cache, dstate)
    ty, tfin, tdx, tdst, tgrads = torch_run(ref, x, state, lengths, dy, dstate, kind)

    got = {"y": y, "dx": dx, **grads}
    want = {"y": ty, "dx": tdx, **tgrads}
    for k, (a, b) in enumerate(zip(fin if kind == "lstm" else (fin,), tfin if kind == "lstm" else (tfin,))):
        got[f"final[{k}]"], want[f"final[{k}]"] = a, b
    for k, (a, b) in enumerate(zip(dstate0 if kind == "lstm" else (dstate0,), tdst if kind == "lstm" else (tdst,))):
        got[f"dstate0[{k}]"], want[f"dstate0[{k}]"] = a, b
    for name in want:
        assert got[name].dtype == np.float32, f"{name}: dtype {got[name].dtype}"
        _close(name, got[name], want[name])

