"""Doc2Vec document vectors (Le & Mikolov 2014) with gensim, kept as plain arrays.

    d2v = train_doc2vec(token_lists, dim=100, seed=0)       # PV-DBOW on the training texts
    arrays, words, counts = doc2vec_arrays(d2v)            # what a run saves (no pickle)
    d2v = rebuild_doc2vec(arrays, words, counts, seed=0)   # the same model again, for new texts
    vecs = infer_vectors(d2v, token_lists, seed=0)         # (N, dim) float32

The model is PV-DBOW with skip-gram word training interleaved (``dm=0, dbow_words=1``),
negative sampling, every word kept (``min_count=1``), one worker thread. A text's vector
is inferred by gradient steps on that vector alone with the words' and output weights
fixed; the random draws are reset from ``seed`` before each text, so the same text
always gets the same vector. Training texts use the vectors learned with the model.
"""
import zlib

import numpy as np

EPOCHS = 20


def _gensim():
    try:
        from gensim.models import Doc2Vec
        from gensim.models.doc2vec import TaggedDocument
    except ImportError:
        raise ImportError("--pretrained doc2vec needs gensim: pip install 'rnnlab[vectors]'") from None
    return Doc2Vec, TaggedDocument


def _new(dim, seed):
    Doc2Vec, _ = _gensim()
    return Doc2Vec(vector_size=dim, dm=0, dbow_words=1, window=5, negative=5, min_count=1, workers=1, seed=seed,
                   epochs=EPOCHS)


def train_doc2vec(token_lists, dim=100, seed=0):
    """A gensim Doc2Vec trained on ``token_lists``; document i's vector is ``model.dv[i]``."""
    _, TaggedDocument = _gensim()
    docs = [TaggedDocument(list(t), [i]) for i, t in enumerate(token_lists)]
    model = _new(dim, seed)
    model.build_vocab(docs)
    model.train(docs, total_examples=len(docs), epochs=model.epochs)
    return model


def doc2vec_arrays(model):
    """({"words": (V, D), "output": (V, D)} float32, words [V], counts [V]): enough to infer new vectors."""
    words = list(model.wv.index_to_key)
    counts = [int(model.wv.get_vecattr(w, "count")) for w in words]
    return {"words": model.wv.vectors.astype(np.float32), "output": model.syn1neg.astype(np.float32)}, words, counts


def rebuild_doc2vec(arrays, words, counts, seed=0):
    """A gensim Doc2Vec with the saved word and output weights, ready for ``infer_vectors``."""
    dim = int(arrays["words"].shape[1])
    model = _new(dim, seed)
    model.build_vocab_from_freq(dict(zip(words, counts)))
    wv = model.wv
    if sorted(wv.index_to_key) != sorted(words):
        raise ValueError("the saved Doc2Vec vocabulary does not rebuild")
    # gensim orders equal counts arbitrarily: put the words (and their per-word attributes) in the saved order
    perm = np.array([wv.key_to_index[w] for w in words])
    for name in list(wv.expandos):
        wv.expandos[name] = wv.expandos[name][perm]
    wv.index_to_key = list(words)
    wv.key_to_index = {w: i for i, w in enumerate(words)}
    model.make_cum_table()
    model.wv.vectors[...] = arrays["words"]
    model.syn1neg[...] = arrays["output"]
    return model


def infer_vectors(model, token_lists, seed=0):
    """(N, D) float32 vectors of texts the model was not trained on (unknown words are skipped).

    gensim's ``infer_vector`` with the starting vector seeded by a CRC-32 of the text instead of
    Python's per-process string hash, so a text gets the same vector in every process.
    """
    from gensim.models.doc2vec_inner import train_document_dbow

    D = model.vector_size
    out = np.zeros((len(token_lists), D), dtype=np.float32)
    step = (model.alpha - model.min_alpha) / max(model.epochs - 1, 1)
    for i, tokens in enumerate(token_lists):
        words = list(tokens)
        start = np.random.default_rng([seed, zlib.crc32(" ".join(words).encode("utf-8"))]).random(D)
        vec = ((start - 0.5) / D).astype(np.float32).reshape(1, D)     # gensim's small random start
        model.random = np.random.RandomState(seed)                     # its negative-sampling draws
        work, lockf, alpha = np.zeros(model.layer1_size, dtype=np.float32), np.ones(1, dtype=np.float32), model.alpha
        for _ in range(model.epochs):
            train_document_dbow(model, words, [0], alpha, work, learn_words=False, learn_hidden=False,
                                doctag_vectors=vec, doctags_lockf=lockf)
            alpha -= step
        out[i] = vec[0]
    return out
