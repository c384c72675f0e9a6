"""The workloads, each built twice on the same weights and inputs: rnnlab and torch.nn.

    train      one training step: recurrent layer + Linear head + softmax cross entropy
               on every step, forward and backward (torch: grads set to None first)
    infer      the same model's forward only (torch: inference_mode)
    generate   one token of a character model, B = 1: one-hot input, one recurrent
               step, head, greedy pick (rnnlab: engine.<cell>.step; torch: the faster
               of nn.<Cell> and nn.<Cell>Cell on a length-1 sequence)

Shapes: x (B, T, I) batch-first float32; the head maps to V = I classes.
"""
import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import GRU, LSTM, RNN, engine
from rnnlab.layers.linear import Linear
from rnnlab.losses import cross_entropy, cross_entropy_backward

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
TORCH_CELL = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
ENGINE = {"rnn": engine.rnn, "lstm": engine.lstm, "gru": engine.gru}


class Model:
    """A recurrent layer and a Linear head, in rnnlab and in torch with identical weights."""

    def __init__(self, cell, I, H, V, layers=1, bidirectional=False, seed=0):
        self.cell, self.I, self.H, self.V = cell, I, H, V
        self.D = 2 if bidirectional else 1
        self.layer = LAYERS[cell](I, H, num_layers=layers, bidirectional=bidirectional, seed=seed)
        self.head = Linear(self.D * H, V, seed=seed + 1)
        self.t_layer = TORCH[cell](I, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.t_head = torch.nn.Linear(self.D * H, V)
        self.t_layer.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.layer.state_dict().items()})
        self.t_head.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.head.params.items()})
        self.t_params = list(self.t_layer.parameters()) + list(self.t_head.parameters())

    def n_params(self):
        return sum(p.size for p in self.layer.params.values()) + sum(p.size for p in self.head.params.values())


def flops(cell, B, T, I, H, V, layers=1, D=1, backward=True):
    """Multiply-adds x 2 of the matrix products the step performs (no dx for the data input, as torch)."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * H
    N = B * T
    total = 0
    for k in range(layers):
        inp = I if k == 0 else D * H
        if backward:   # forward, weight gradient, input gradient (none for the first layer's data input)
            total += D * 2 * N * G * (inp * (2 if k == 0 else 3) + H * 3)
        else:
            total += D * 2 * N * G * (inp + H)
    total += 2 * N * D * H * V * (3 if backward else 1)
    return total


def must_keep_bytes(cell, B, T, I, H, V, n_params, layers=1, D=1, itemsize=4, dx=True):
    """Parameters + gradients (dx too when it is computed) + what BPTT has to keep: the input,
    each layer's input, per direction its states and gates, and the head's log-probabilities
    (V = 0: the recurrent layer alone)."""
    per_dir = {"rnn": (T + 1) * H, "lstm": T * 4 * H + 2 * (T + 1) * H, "gru": T * 4 * H + (T + 1) * H}[cell] * B
    acts = (2 if dx else 1) * T * B * I + (layers - 1) * T * B * D * H + layers * D * per_dir + T * B * V
    return itemsize * (2 * n_params + acts)


def layer_step(m, B, T, lengths=None, seed=0):
    """Forward and backward of the recurrent layer alone, dy given (for its memory)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, m.I), dtype=np.float32).transpose(1, 0, 2)
    dy = rng.standard_normal((T, B, m.D * m.H), dtype=np.float32).transpose(1, 0, 2)

    def ours():
        y, _, cache = m.layer.forward(x, lengths=lengths, training=True)
        return m.layer.backward(dy, cache)

    return ours


def training_step(m, B, T, lengths=None, seed=0):
    """(rnnlab_fn, torch_fn) for one training step of model m on a fixed batch."""
    rng = np.random.default_rng(seed)
    x_tm = rng.standard_normal((T, B, m.I), dtype=np.float32)
    x = x_tm.transpose(1, 0, 2)                    # (B, T, I) view of time-major memory: the layer's copy is free
    targets_tm = rng.integers(0, m.V, size=(T, B))
    valid_tm = None
    t_targets = torch.from_numpy(np.ascontiguousarray(targets_tm.T))
    if lengths is not None:
        valid_tm = np.arange(T)[:, None] < lengths[None, :]          # (T, B)
        t_targets = t_targets.masked_fill(torch.from_numpy(~valid_tm.T.copy()), -100)
    layer, head = m.layer, m.head

    def ours():
        y, _, cache = layer.forward(x, lengths=lengths, training=True)
        logits, hcache = head.forward(y.transpose(1, 0, 2))            # (T, B, V), time-major
        # one (T, B, V) buffer holds the logits, then the log-probabilities, then dlogits
        loss, lcache = cross_entropy(logits, targets_tm, mask=valid_tm, inplace=True)
        del logits
        dy_tm, hgrads = head.backward(cross_entropy_backward(lcache, inplace=True), hcache)
        del lcache
        # x is data, as in the torch step (no requires_grad): no input gradient
        _, _, grads = layer.backward(dy_tm.transpose(1, 0, 2), cache, need_dx=False)
        return loss

    tx = torch.from_numpy(np.ascontiguousarray(x))
    t_lengths = None if lengths is None else torch.as_tensor(lengths)

    def theirs():
        for p in m.t_params:
            p.grad = None
        y = _torch_forward(m, tx, t_lengths, T)
        loss = F.cross_entropy(m.t_head(y).reshape(-1, m.V), t_targets.reshape(-1), ignore_index=-100)
        loss.backward()
        return loss

    return ours, theirs


def inference(m, B, T, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    x_tm = rng.standard_normal((T, B, m.I), dtype=np.float32)
    x = x_tm.transpose(1, 0, 2)
    tx = torch.from_numpy(np.ascontiguousarray(x))
    t_lengths = None if lengths is None else torch.as_tensor(lengths)

    def ours():
        y, _, _ = m.layer.forward(x, lengths=lengths)
        return m.head.forward(y.transpose(1, 0, 2))[0]

    def theirs():
        with torch.inference_mode():
            return m.t_head(_torch_forward(m, tx, t_lengths, T))

    return ours, theirs


def _torch_forward(m, tx, t_lengths, T):
    if t_lengths is None:
        return m.t_layer(tx)[0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, t_lengths, batch_first=True, enforce_sorted=False)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(m.t_layer(packed)[0], batch_first=True, total_length=T)
    return y


def generation(m):
    """(rnnlab_fn, torch_seq_fn, torch_cell_fn): each call produces one token, greedily."""
    cell, V, H = m.cell, m.V, m.H
    p = m.layer.params
    params = {"W_ih": p["weight_ih_l0"], "W_hh": p["weight_hh_l0"], "b_ih": p["bias_ih_l0"], "b_hh": p["bias_hh_l0"]}
    W_out, b_out = m.head.params["weight"], m.head.params["bias"]
    onehot = np.eye(V, dtype=np.float32)
    # the input product of a one-hot (or embedded) token is a row of a table computed once,
    # as rnnlab's LanguageModel.sample does; torch's cell multiplies the one-hot vector each step
    table = ENGINE[cell].project(onehot, params)   # (V, G)
    step = ENGINE[cell].step_projected
    zero = np.zeros((1, H), dtype=np.float32)
    st = {"idx": 0, "state": (zero, zero.copy()) if cell == "lstm" else zero}

    def ours():
        h, st["state"] = step(table[st["idx"] : st["idx"] + 1], st["state"], params)
        logits = h @ W_out.T                        # (1, V)
        logits += b_out
        st["idx"] = int(logits.argmax())
        return st["idx"]

    t_onehot = torch.eye(V)
    tcell = TORCH_CELL[cell](V, H)
    tcell.load_state_dict({k.replace("_l0", ""): v for k, v in m.t_layer.state_dict().items()})
    ts = {"idx": 0, "seq": None, "cell": None}

    def theirs_seq():
        with torch.inference_mode():
            y, ts["seq"] = m.t_layer(t_onehot[ts["idx"]].view(1, 1, V), ts["seq"])
            ts["idx"] = int(m.t_head(y[0, 0]).argmax())
        return ts["idx"]

    def theirs_cell():
        with torch.inference_mode():
            ts["cell"] = tcell(t_onehot[ts["idx"]].view(1, V), ts["cell"])
            h = ts["cell"][0] if cell == "lstm" else ts["cell"]
            ts["idx"] = int(m.t_head(h[0]).argmax())
        return ts["idx"]

    return ours, theirs_seq, theirs_cell
