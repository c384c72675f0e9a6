"""rnnlab: recurrent neural networks with hand-written BPTT on a NumPy core."""
from .layers import GRU, LSTM, RNN

__version__ = "0.1.0"
__all__ = ["RNN", "LSTM", "GRU", "__version__"]
