"""Real built-in datasets, fetched and parsed for real: run with RNNLAB_NETWORK_TESTS=1.

They use the ordinary cache ($RNNLAB_CACHE or ~/.cache/rnnlab), so only the
first run downloads (about 80 MB in all) and parses (under a minute, mostly
the Bach chorales). Expected figures were measured on these exact archives.
"""
import os
from collections import Counter

import pytest

from rnnlab.data import DatasetUnavailable, load_dataset, load_twemoji_images

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(os.environ.get("RNNLAB_NETWORK_TESTS") != "1",
                       reason="set RNNLAB_NETWORK_TESTS=1 to fetch the real datasets"),
]


def test_shakespeare():
    text = load_dataset("shakespeare")
    assert 4_700_000 < len(text) < 4_900_000 and len(set(text)) == 76
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert not set("#*_\\") & set(text)


def test_rotten_tomatoes():
    data = load_dataset("rotten_tomatoes")
    assert Counter(label for _, label in data) == {"fresh": 7368, "rotten": 5384}
    assert len({text for text, _ in data}) == len(data)


def test_peoples_daily():
    data = load_dataset("peoples_daily")
    tags = Counter(t for _, tags in data for t in tags)
    assert len(data) == 44542 and sum(tags.values()) == 1_841_657
    assert (tags["B-PER"], tags["B-LOC"], tags["B-ORG"]) == (19645, 27890, 3573)
    pos = load_dataset("peoples_daily_pos")
    assert sum(len(w) for w, _ in pos) == 1_121_447 and len({t for _, ts in pos for t in ts}) == 44


def test_wnut16():
    data = load_dataset("wnut16")
    assert len(data) == 2394 and sum(len(t) for t, _ in data) == 46469
    assert len({t[2:] for _, tags in data for t in tags if t != "O"}) == 10


def test_turkish_pos():
    data = load_dataset("turkish_pos")
    assert len(data) == 4851 and sum(len(t) for t, _ in data) == 81370
    assert len({t for _, tags in data for t in tags}) == 14


def test_turkish_register():
    data = load_dataset("turkish_register")
    assert len(data) == 4851 and [lab for _, lab in data].count("web") == 2541
    assert data[0] == ("Burda da öylemi yoksa kiloyla mı ?", "web")
    assert all(text.strip() == text and text for text, _ in data)


def test_cmudict():
    data = load_dataset("cmudict")
    assert len(data) == 135166 and len({w for w, _ in data}) == 126052
    assert ("hello", ["HH", "AH0", "L", "OW1"]) in data


def test_bach_chorales():
    chorales = load_dataset("bach_chorales")
    assert len(chorales) == 350 and chorales[0]["name"] == "bwv269"
    assert sum(len(c["frames"]) for c in chorales) == 19091
    assert all(len(f) <= 5 for c in chorales for f in c["frames"])  # vocal parts only (one 5-voice chorale)


def test_twemoji():
    pairs = load_dataset("twemoji")
    assert len(pairs) == 3953 and ("1f40a", "crocodile") in pairs
    codes, names, images = load_twemoji_images()
    assert images.shape == (3953, 24, 24, 3) and codes == [c for c, _ in pairs]


def test_bible_en_es():
    try:
        data = load_dataset("bible_en_es")
    except DatasetUnavailable as exc:
        pytest.skip(str(exc))
    assert len(data) == 31084
    assert data[0] == ("In the beginning God created the heaven and the earth.",
                       "EN el principio crió Dios los cielos y la tierra.")


def test_spoken_digits():
    data = load_dataset("spoken_digits")
    assert len(data) == 3000 and Counter(d for _, d in data) == {str(d): 300 for d in range(10)}
    assert sum(len(f) for f, _ in data) == 53999 and all(f.shape[1] == 13 for f, _ in data)
    connected = load_dataset("connected_digits")
    assert len(connected) == 3000 and all(2 <= len(t.split()) <= 7 for _, t in connected)
