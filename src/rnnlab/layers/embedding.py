"""A lookup table from token ids to vectors, with PyTorch's names and initialisation.

    emb = Embedding(V, E, padding_idx=0)
    x, cache = emb.forward(ids)          # ids (...) int -> x (..., E)
    grads = emb.backward(dx, cache)      # {"weight": (V, E)}

Backward scatter-adds each position's gradient into the row of its id: a token
that appears n times in the batch gets the sum of its n gradients. The padding
row never receives gradient, as in torch.nn.Embedding.
"""
import numpy as np

from ..checks import check_array
from .module import Module


class Embedding(Module):
    """y[..., :] = weight[ids[...], :].

    weight (V, E) ~ N(0, 1) as torch.nn.Embedding, with the ``padding_idx`` row zeroed.
    ``frozen`` marks the table as not to be trained; optimizers skip the parameter
    when a model lists it in ``optimizer.frozen``.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32, seed=None, freeze=False):
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        V = int(num_embeddings)
        if padding_idx is not None:
            if not isinstance(padding_idx, (int, np.integer)) or not -V <= padding_idx < V:
                raise ValueError(f"padding_idx must be an integer in [-{V}, {V}), got {padding_idx!r}")
            padding_idx = int(padding_idx) % V          # PyTorch accepts -1 for the last row
        self.num_embeddings, self.embedding_dim, self.padding_idx, self.dtype = V, int(embedding_dim), padding_idx, dtype
        self.frozen = bool(freeze)
        self.rng = np.random.default_rng(seed)
        weight = self.rng.standard_normal((V, self.embedding_dim)).astype(dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.params = {"weight": weight}

    def param_shapes(self):
        return {"weight": (self.num_embeddings, self.embedding_dim)}

    def forward(self, ids):
        """ids (...) integers in [0, V) -> y (..., E), cache."""
        ids = self._check_ids(ids)
        return self.params["weight"][ids], ids          # fancy indexing copies: y does not alias weight

    def __call__(self, ids):
        return self.forward(ids)

    def backward(self, dy, cache):
        """dy (..., E) -> grads {"weight": dweight (V, E)} (no dx: ids are not differentiable)."""
        ids = cache
        E = self.embedding_dim
        dy = check_array("dy", dy, shape=ids.shape + (E,), dtype=self.dtype, shape_doc="(..., E)")
        flat = ids.reshape(-1)                          # (N,)
        dy2 = dy.reshape(-1, E)                         # (N, E)
        dweight = np.zeros((self.num_embeddings, E), dtype=self.dtype)
        if flat.size:
            # Sort by id, then sum each run of equal ids in one pass: the same as
            # np.add.at(dweight, flat, dy2) but without its per-element overhead.
            order = np.argsort(flat, kind="stable")
            uniq, starts = np.unique(flat[order], return_index=True)
            dweight[uniq] = np.add.reduceat(dy2[order], starts, axis=0)
        if self.padding_idx is not None:
            dweight[self.padding_idx] = 0.0
        return {"weight": dweight}

    def load_pretrained(self, vectors, vocab_tokens, lowercase_fallback=True, freeze=None):
        """Copy pretrained vectors into the rows of the tokens they cover, in place.

        vectors: {word: (E,) array} or a pair (words list, matrix (N, E)).
        vocab_tokens: this table's tokens, one per row (length V).
        A token missing from ``vectors`` is looked up lower-cased when
        ``lowercase_fallback``; rows still not found (and the padding row) keep
        their current values. ``freeze`` (if given) sets ``self.frozen``.
        Returns the coverage: the fraction of the non-padding rows that were filled.
        """
        table = _as_table(vectors)
        tokens = list(vocab_tokens)
        V, E = self.num_embeddings, self.embedding_dim
        if len(tokens) != V:
            raise ValueError(f"vocab_tokens has {len(tokens)} tokens but the embedding has {V} rows")
        weight = self.params["weight"]
        found = 0
        for i, tok in enumerate(tokens):
            if i == self.padding_idx:
                continue
            vec = table.get(tok)
            if vec is None and lowercase_fallback and isinstance(tok, str):
                vec = table.get(tok.lower())
            if vec is None:
                continue
            vec = np.asarray(vec)
            if vec.shape != (E,):
                raise ValueError(f"pretrained vector for {tok!r} has shape {vec.shape}, expected ({E},)")
            weight[i] = vec
            found += 1
        if freeze is not None:
            self.frozen = bool(freeze)
        rows = V - (self.padding_idx is not None)
        return found / rows if rows else 0.0

    def _check_ids(self, ids):
        if hasattr(ids, "detach"):
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be an integer array, got dtype {ids.dtype}")
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0:
                raise ValueError(f"ids contain a negative id ({lo}); ids must be in [0, {self.num_embeddings})")
            if hi >= self.num_embeddings:
                raise ValueError(f"ids contain id {hi} but the vocabulary has {self.num_embeddings} rows "
                                 f"(max id {self.num_embeddings - 1})")
        return ids

    def __repr__(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad})"


def _as_table(vectors):
    """{word: vector} from a dict or a (words, matrix) pair."""
    if isinstance(vectors, dict):
        return vectors
    if isinstance(vectors, (tuple, list)) and len(vectors) == 2:
        words, matrix = vectors
        matrix = np.asarray(matrix)
        words = list(words)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"pretrained (words, matrix) must pair {len(words)} words with a "
                             f"({len(words)}, E) matrix, got shape {matrix.shape}")
        table = {}
        for w, row in zip(words, matrix):
            table.setdefault(w, row)                    # first occurrence wins, as in most vector files
        return table
    raise ValueError(f"vectors must be a dict {{word: vector}} or a pair (words, matrix), got {type(vectors).__name__}")
