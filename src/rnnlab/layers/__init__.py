"""Layers: recurrent (RNN, LSTM, GRU), Linear, Embedding."""
from .recurrent import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU"]
