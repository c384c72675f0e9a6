"""datasets.py: the registry lists every dataset and loads the generated one offline."""
import pytest

from rnnlab.data import DATASETS, list_datasets, load_dataset

EXPECTED = {"shakespeare": "charlm", "rotten_tomatoes": "classify", "order": "classify", "turkish_register": "classify",
            "peoples_daily": "tag", "peoples_daily_pos": "tag", "wnut16": "tag", "turkish_pos": "tag",
            "cmudict": "seq2seq", "bible_en_es": "seq2seq", "bach_chorales": "music", "twemoji": "caption",
            "spoken_digits": "speech", "connected_digits": "speech"}


def test_list_datasets():
    listed = list_datasets()
    assert {name: task for name, task, _ in listed} == EXPECTED
    assert all(isinstance(desc, str) and desc for _, _, desc in listed)
    assert list(DATASETS) == [name for name, _, _ in listed]


def test_load_generated_dataset_and_unknown_name():
    data = load_dataset("order")
    assert len(data) == 10_000 and {label for _, label in data} == {"A", "B"}
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: shakespeare"):
        load_dataset("nope")
