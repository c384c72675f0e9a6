"""Tokenizers (text -> list of str tokens) and a Vocab (tokens <-> integer ids).

    CharTokenizer()             "Hi, Bob" -> ["H", "i", ",", " ", "B", "o", "b"]
    WordTokenizer(lower=False)  "Bob's dog, Rex!" -> ["Bob's", "dog", ",", "Rex", "!"]
    MixedTokenizer(lower=False) "我爱NumPy!" -> ["我", "爱", "NumPy", "!"]

Every tokenizer has tokenize(text) -> list[str] and detokenize(tokens) -> str.
A Vocab maps tokens to ids with <pad> = 0 and <unk> = 1 (then <bos>, <eos>
when asked for) and is saved as JSON (never pickle).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"

# Han ideographs (and extensions, compatibility forms) plus Japanese kana: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_MIXED = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+(?:['’](?:(?![{_CJK}])\w)+)*|[^\w\s]")


class CharTokenizer:
    """Every character (including spaces and newlines) is a token."""

    name = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


class WordTokenizer:
    """Runs of word characters (with inner apostrophes: "don't") and single punctuation marks.

    Whitespace is dropped, so detokenize joins with single spaces.
    """

    name = "word"

    def __init__(self, lower: bool = False):
        self.lower = lower

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


class MixedTokenizer:
    """CJK characters one per token, other scripts as in WordTokenizer (for Chinese text classification).

    detokenize joins with a space only between two non-CJK tokens.
    """

    name = "mixed"

    def __init__(self, lower: bool = False):
        self.lower = lower

    def tokenize(self, text: str) -> list[str]:
        return _MIXED.findall(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        out = []
        for i, tok in enumerate(tokens):
            if i and not _is_cjk(tok) and not _is_cjk(tokens[i - 1]):
                out.append(" ")
            out.append(tok)
        return "".join(out)


def _is_cjk(token: str) -> bool:
    return bool(re.fullmatch(f"[{_CJK}]", token))


TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer, "mixed": MixedTokenizer}


def get_tokenizer(name: str, lower: bool = False):
    """A tokenizer by name: "char", "word" or "mixed" (lower is ignored for "char")."""
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    return CharTokenizer() if name == "char" else TOKENIZERS[name](lower=lower)


class Vocab:
    """Token <-> id table: <pad> = 0, <unk> = 1, then <bos>, <eos> if present, then regular tokens."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocab starts with {PAD!r}, {UNK!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise ValueError(f"token {dup!r} appears twice in the vocab")
        self.itos = tokens
        self.stoi = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None,
              bos_eos: bool = False) -> "Vocab":
        """Vocab of the tokens in `sequences` seen at least `min_freq` times.

        Regular tokens are ordered by frequency (descending), ties by the token
        itself, so the result does not depend on the input order. max_size
        bounds the whole table, special tokens included.
        """
        specials = [PAD, UNK] + ([BOS, EOS] if bos_eos else [])
        counts = Counter(tok for seq in sequences for tok in seq)
        for s in specials:
            counts.pop(s, None)
        regular = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            if max_size < len(specials):
                raise ValueError(f"max_size={max_size} leaves no room for the {len(specials)} special tokens")
            regular = regular[: max_size - len(specials)]
        return cls(specials + regular)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def bos_id(self) -> int | None:
        return self.stoi.get(BOS)

    @property
    def eos_id(self) -> int | None:
        return self.stoi.get(EOS)

    def encode(self, tokens: Iterable[str], bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of `tokens` (unknown ones -> unk_id), optionally wrapped in <bos> ... <eos>."""
        for flag, tid, name in ((bos, self.bos_id, BOS), (eos, self.eos_id, EOS)):
            if flag and tid is None:
                raise ValueError(f"this vocab has no {name}; build it with bos_eos=True")
        ids = [self.stoi.get(t, 1) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> list[str]:
        """Tokens of `ids`; <pad>, <bos>, <eos> are dropped when skip_special (<unk> is kept)."""
        drop = {0, self.bos_id, self.eos_id} if skip_special else set()
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"id {i} is outside this vocab of size {len(self.itos)}")
            if i not in drop:
                out.append(self.itos[i])
        return out

    def to_json(self) -> str:
        return json.dumps({"tokens": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError('vocab JSON must be an object {"tokens": [...]}')
        return cls(data["tokens"])

    def save(self, path: str | Path) -> None:
        from .fetch import atomic_write_text
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
