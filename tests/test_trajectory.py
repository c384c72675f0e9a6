"""20 Adam steps of a small LSTM language model give PyTorch's losses (float64).

The reference is computed in the same run by the same setup in PyTorch: our initial
weights loaded into nn.Embedding / nn.LSTM / nn.Linear, torch.optim.Adam, mean
cross-entropy over all positions, gradient clipping at global norm 1.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import LSTM, Embedding, Linear  # noqa: E402
from rnnlab.losses import cross_entropy, cross_entropy_backward  # noqa: E402
from rnnlab.optim import Adam, clip_grad_norm_  # noqa: E402


def test_adam_trajectory_matches_torch():
    V, E, H, B, T, steps = 11, 6, 9, 3, 7, 20
    rng = np.random.default_rng(0)
    # counting sequences (next token = this token + 1 mod V) from random starts: learnable in 20 steps
    data = (rng.integers(0, V, size=(steps, B, 1)) + np.arange(T + 1)) % V
    emb = Embedding(V, E, dtype=np.float64, seed=1)
    rnn = LSTM(E, H, num_layers=2, dtype=np.float64, seed=2)
    head = Linear(H, V, dtype=np.float64, seed=3)
    params = {**{f"emb.{k}": v for k, v in emb.params.items()}, **{f"rnn.{k}": v for k, v in rnn.params.items()},
              **{f"head.{k}": v for k, v in head.params.items()}}

    t_emb, t_rnn, t_head = torch.nn.Embedding(V, E).double(), torch.nn.LSTM(E, H, 2, batch_first=True).double(), \
        torch.nn.Linear(H, V).double()
    with torch.no_grad():
        t_emb.weight.copy_(torch.from_numpy(emb.params["weight"]))
        t_rnn.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in rnn.params.items()})
        t_head.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in head.params.items()})
    t_params = list(t_emb.parameters()) + list(t_rnn.parameters()) + list(t_head.parameters())
    t_opt = torch.optim.Adam(t_params, lr=3e-2)
    opt = Adam(params, lr=3e-2)

    ours, theirs = [], []
    for s in range(steps):
        x, y = data[s, :, :-1], data[s, :, 1:]
        e, ec = emb.forward(x)
        h, _, rc = rnn.forward(e)
        logits, lc = head.forward(h)
        loss, cc = cross_entropy(logits, y)
        dh, gh = head.backward(cross_entropy_backward(cc), lc)
        de, _, gr = rnn.backward(dh, rc)
        ge = emb.backward(de, ec)
        grads = {**{f"emb.{k}": v for k, v in ge.items()}, **{f"rnn.{k}": v for k, v in gr.items()},
                 **{f"head.{k}": v for k, v in gh.items()}}
        clip_grad_norm_(grads, 1.0)
        opt.step(grads)
        ours.append(loss)

        t_opt.zero_grad()
        out, _ = t_rnn(t_emb(torch.from_numpy(x)))
        t_loss = torch.nn.functional.cross_entropy(t_head(out).reshape(-1, V), torch.from_numpy(y).reshape(-1))
        t_loss.backward()
        torch.nn.utils.clip_grad_norm_(t_params, 1.0)
        t_opt.step()
        theirs.append(t_loss.item())

    diff = np.max(np.abs(np.array(ours) - np.array(theirs)))
    assert diff <= 1e-6, f"loss trajectories differ by {diff:.3e}: ours {ours[-3:]}, torch {theirs[-3:]}"
    assert ours[-1] < ours[0] - 0.1, "the model did not learn"
