"""rnnlab: recurrent neural networks with hand-written BPTT on a NumPy core.

    from rnnlab import LSTM
    layer = LSTM(input_size, hidden_size, num_layers=1, bidirectional=False)
    y, state, cache = layer.forward(x)              # x (B, T, I) -> y (B, T, D*H)
    dx, dstate0, grads = layer.backward(dy, cache)  # grads keyed like torch's state_dict
"""
from .gradcheck import check_grads, check_layer_grads
from .layers import GRU, LSTM, RNN, Embedding, Linear
from .report import report

__version__ = "0.1.0"
__all__ = ["RNN", "LSTM", "GRU", "Linear", "Embedding", "check_grads", "check_layer_grads", "report", "__version__"]
