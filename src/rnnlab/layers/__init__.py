"""Layers: recurrent (RNN, LSTM, GRU), Linear, Embedding."""
from .embedding import Embedding
from .linear import Linear
from .recurrent import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU", "Linear", "Embedding"]
