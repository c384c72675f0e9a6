"""SpeechRecognizer: gradients against PyTorch (float64) and finite differences, padded batches."""
import itertools

import numpy as np
import pytest

from rnnlab.gradcheck import check_grads
from rnnlab.models import MODELS
from rnnlab.models.speech import SpeechConfig, SpeechRecognizer

CELLS = ("lstm", "gru", "rnn")
LENGTHS = np.array([9, 7, 4])
TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]])      # 0 is the blank and pads
TARGET_LENGTHS = np.array([3, 2, 1])


def small_model(cell="lstm", subsample=1, layers=2, bidirectional=True, dropout=0.0, seed=1):
    m = SpeechRecognizer(SpeechConfig(num_features=4, num_labels=5, cell=cell, hidden=3, layers=layers,
                                      bidirectional=bidirectional, subsample=subsample, dropout=dropout,
                                      dtype="float64", seed=seed))
    rng = np.random.default_rng(seed)
    m.set_normalization(rng.standard_normal(4), rng.random(4) + 0.5)
    x = rng.standard_normal((3, 9, 4))
    x[1, 7:] = 99.0                                          # padding must not matter
    x[2, 4:] = -99.0
    return m, x


def torch_loss(torch, m, x, lengths, targets, target_lengths):
    """The same network from torch.nn.LSTM/GRU/RNN + F.linear + F.ctc_loss on the model's arrays."""
    F = torch.nn.functional
    c = m.config
    P = {k: torch.tensor(v, requires_grad=k not in m.frozen) for k, v in m.params.items()}
    B, T, Fn = x.shape
    K = c.subsample
    mask = torch.tensor((np.arange(T)[None, :] < lengths[:, None]).astype(np.float64))[:, :, None]
    z = (torch.tensor(x) - P["norm.mean"]) / P["norm.std"] * mask
    T2 = -(-T // K)
    z = F.pad(z, (0, 0, 0, T2 * K - T)).reshape(B, T2, K * Fn)
    out_lengths = (lengths + K - 1) // K
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[c.cell]
    rnn = cls(K * Fn, c.hidden, c.layers, batch_first=True, bidirectional=c.bidirectional, dtype=torch.float64)
    weights = {k[len("rnn."):]: v for k, v in P.items() if k.startswith("rnn.")}
    packed = torch.nn.utils.rnn.pack_padded_sequence(z, torch.tensor(out_lengths), batch_first=True,
                                                     enforce_sorted=False)
    y, _ = torch.func.functional_call(rnn, weights, (packed,))
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T2)
    logits = F.linear(y, P["out.weight"], P["out.bias"])
    loss = F.ctc_loss(torch.log_softmax(logits, -1).transpose(0, 1), torch.tensor(targets),
                      torch.tensor(out_lengths), torch.tensor(target_lengths), blank=c.blank)
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in P.items() if v.requires_grad}


@pytest.mark.parametrize("cell,subsample", list(itertools.product(CELLS, (1, 2))))
def test_loss_and_grads_match_torch(cell, subsample, close):
    torch = pytest.importorskip("torch")
    m, x = small_model(cell, subsample)
    loss, grads = m.loss_and_grads(x, LENGTHS, TARGETS, TARGET_LENGTHS)
    want_loss, want = torch_loss(torch, m, x, LENGTHS, TARGETS, TARGET_LENGTHS)
    close("loss", loss, want_loss, 1e-10)
    assert set(grads) == set(want) and not any(k.startswith("norm.") for k in grads)
    for name in want:
        close(name, grads[name], want[name], 1e-8)


def test_unidirectional_one_layer_matches_torch(close):
    torch = pytest.importorskip("torch")
    m, x = small_model("gru", 3, layers=1, bidirectional=False)
    loss, grads = m.loss_and_grads(x, LENGTHS, TARGETS[:, :1], np.array([1, 1, 1]))
    want_loss, want = torch_loss(torch, m, x, LENGTHS, TARGETS[:, :1], np.array([1, 1, 1]))
    close("loss", loss, want_loss, 1e-10)
    for name in want:
        close(name, grads[name], want[name], 1e-8)


@pytest.mark.parametrize("cell,subsample", [("lstm", 2), ("gru", 1), ("rnn", 3)])
def test_grads_match_finite_differences(cell, subsample):
    m, x = small_model(cell, subsample)
    tl = np.array([2, 2, 1])
    _, grads = m.loss_and_grads(x, LENGTHS, TARGETS, tl)
    trained = {k: v for k, v in m.params.items() if k not in m.frozen}
    check_grads(lambda: m.loss(x, LENGTHS, TARGETS, tl), trained, grads)


def test_grads_with_dropout_match_finite_differences():
    m, x = small_model("lstm", dropout=0.3)

    def loss():   # the same dropout masks on every call
        return m.loss_and_grads(x, LENGTHS, TARGETS, TARGET_LENGTHS, rng=np.random.default_rng(5))

    _, grads = loss()
    check_grads(lambda: loss()[0], {k: v for k, v in m.params.items() if k not in m.frozen}, grads)


@pytest.mark.parametrize("subsample", [1, 2, 3])
def test_padded_batch_gives_each_utterance_its_own_outputs(subsample, close):
    m, x = small_model("lstm", subsample)
    logp, out_lengths = m.log_probs(x, LENGTHS)
    for b, n in enumerate(LENGTHS):
        alone, n_out = m.log_probs(x[b:b + 1, :n])
        assert n_out[0] == out_lengths[b] == -(-n // subsample)
        close(f"utterance {b}", logp[b, :n_out[0]], alone[0], 1e-12)


def test_registered_and_validated():
    assert MODELS["SpeechRecognizer"] is SpeechRecognizer
    m, _ = small_model()
    assert {"norm.mean", "norm.std", "rnn.weight_ih_l0", "rnn.weight_hh_l1_reverse", "out.weight",
            "out.bias"} <= set(m.params)
    with pytest.raises(ValueError, match="subsample must be >= 1"):
        SpeechRecognizer(SpeechConfig(4, 5, subsample=0))
    with pytest.raises(ValueError, match="frames must have last dimension 4"):
        m.forward(np.zeros((1, 3, 5)))
