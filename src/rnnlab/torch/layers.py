"""PyTorch building blocks the twins share: recurrent layers over padded batches, attention, the CRF.

Each mirrors an rnnlab layer with the same parameter names, so a state_dict moves either way:

    recurrent(cell, I, H, L, bidirectional, dropout)   nn.RNN | nn.LSTM | nn.GRU, batch first
    run_recurrent(rnn, x, lengths, state)              pack_padded_sequence when lengths are given
    Attention(kind, Q, K, A)                           W_a | W_q, W_k, v   (rnnlab.layers.attention)
    CRF(K)                                             start/end_transitions, transitions (torchcrf.CRF)
"""
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def recurrent(cell, input_size, hidden, layers, bidirectional=False, dropout=0.0):
    """The torch layer rnnlab's make_recurrent builds: dropout between layers only, tanh for 'rnn'."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional,
                       dropout=dropout if layers > 1 else 0.0, batch_first=True)


def run_recurrent(rnn, x, lengths=None, state=None):
    """x (B, T, I), lengths (B,) or None -> y (B, T, D*H) with zeros on padded steps, final state.

    With lengths the final state is each sequence's last valid state and the backward
    direction starts at the last valid step (pack_padded_sequence), as rnnlab's layers.
    """
    if lengths is None:
        return rnn(x, state)
    T = x.shape[1]
    packed = pack_padded_sequence(x, torch.as_tensor(lengths).cpu(), batch_first=True, enforce_sorted=False)
    y, final = rnn(packed, state)
    y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
    return y, final


def length_mask(lengths, T, device=None):
    """(B, T) bool: step t of sequence b is valid if t < lengths[b]."""
    lengths = torch.as_tensor(lengths, device=device)
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


class Attention(nn.Module):
    """Global attention scores of rnnlab.layers.attention: dot, general (W_a) or bahdanau (W_q, W_k, v)."""

    def __init__(self, kind, query_size, key_size, attn_size=None):
        super().__init__()
        self.kind = kind
        A = key_size if attn_size is None else attn_size
        if kind == "general":
            self.W_a = nn.Parameter(torch.empty(query_size, key_size))
        elif kind == "bahdanau":
            self.W_q = nn.Parameter(torch.empty(A, query_size))
            self.W_k = nn.Parameter(torch.empty(A, key_size))
            self.v = nn.Parameter(torch.empty(A))
        for p in self.parameters():
            nn.init.uniform_(p, -1.0 / p.shape[-1] ** 0.5, 1.0 / p.shape[-1] ** 0.5)

    def forward(self, query, keys, mask=None):
        """query (B, T, Q), keys (B, S, K), mask (B, S) bool -> context (B, T, K), weights (B, T, S)."""
        if self.kind == "dot":
            scores = query @ keys.transpose(1, 2)
        elif self.kind == "general":
            scores = (query @ self.W_a) @ keys.transpose(1, 2)
        else:
            z = torch.tanh((query @ self.W_q.T)[:, :, None, :] + (keys @ self.W_k.T)[:, None, :, :])   # (B, T, S, A)
            scores = z @ self.v
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ keys, weights


class CRF(nn.Module):
    """Linear-chain CRF scores under torchcrf.CRF's names; nll() is rnnlab.layers.crf.crf_nll in torch."""

    def __init__(self, num_tags):
        super().__init__()
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))

    def nll(self, emissions, tags, mask):
        """emissions (B, T, K), tags (B, T), mask (B, T) bool -> log Z - s(tags) per sequence (B,)."""
        start, end, trans = self.start_transitions, self.end_transitions, self.transitions
        B, T, _ = emissions.shape
        alpha = start + emissions[:, 0]                                             # (B, K)
        for t in range(1, T):
            nxt = torch.logsumexp(alpha[:, :, None] + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], nxt, alpha)                      # padded steps keep alpha
        log_z = torch.logsumexp(alpha + end, dim=1)
        m = mask.to(emissions.dtype)
        last = mask.sum(dim=1) - 1
        rows = torch.arange(B, device=emissions.device)
        gold = start[tags[:, 0]] + end[tags[rows, last]]
        gold = gold + (emissions.gather(2, tags[:, :, None])[:, :, 0] * m).sum(dim=1)
        gold = gold + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(dim=1)
        return log_z - gold
