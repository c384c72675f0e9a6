"""Readers for user data files. Every problem raises DataError with a one-line
message that names the file (and the line, or byte offset, where it applies).

    read_text(path)        -> str                              (char LM corpus)
    read_labeled_csv(path) -> list[(text, label)]              (classification)
    read_conll(path)       -> list[(tokens, tags)]             (tagging)
    read_tsv_pairs(path)   -> list[(source, target)]           (seq2seq)
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .errors import DataError


def read_text(path: str | Path) -> str:
    """The whole file as UTF-8 text, with a leading BOM removed and CRLF/CR turned into LF.

    Raises DataError if the file is missing, is not a regular file, is empty
    (or whitespace only), or is not valid UTF-8 (naming the first bad byte's offset).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
                        f"cannot be decoded ({exc.reason})") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError(f"{path}: file is empty" if not data else f"{path}: file holds only whitespace")
    return text


def read_labeled_csv(path: str | Path, text_column: str = "text",
                     label_column: str = "label") -> list[tuple[str, str]]:
    """(text, label) rows of a CSV file with a header that has `text` and `label` columns.

    Other columns are ignored; header names match case-insensitively and
    ignoring surrounding spaces. Raises DataError for a missing column (naming
    the columns found), a row with an empty text or label (naming its line),
    no data rows, or fewer than two distinct labels.
    """
    path = Path(path)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    # a tab-separated file (header `text<TAB>label`) reads the same way
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None) or []
    names = [h.strip().lower() for h in header]
    for want in (text_column, label_column):
        if want.lower() not in names:
            found = ", ".join(repr(h) for h in header) or "none"
            raise DataError(f"{path}: missing column {want!r} (found columns: {found})")
    ti, li = names.index(text_column.lower()), names.index(label_column.lower())
    rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ti, li):
            raise DataError(f"{path}:{reader.line_num}: row has {len(row)} fields, header has {len(header)}")
        text, label = row[ti].strip(), row[li].strip()
        if not text or not label:
            raise DataError(f"{path}:{reader.line_num}: empty {text_column if not text else label_column}")
        rows.append((text, label))
    if not rows:
        raise DataError(f"{path}: no data rows below the header")
    labels = sorted({label for _, label in rows})
    if len(labels) < 2:
        raise DataError(f"{path}: needs at least two classes, found only {labels[0]!r} in {len(rows)} rows")
    return rows


def parse_conll(text: str, source: str = "<string>") -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) sentences of CoNLL-style text.

    One token per line: columns separated by tabs or spaces, the first column
    is the token and the last the tag (so CoNLL-2003's `token POS chunk NER`
    works too). Blank lines (spaces/tabs only) end sentences; `-DOCSTART-`
    lines are skipped. Every token line must have the same number of columns
    (at least two) as the first one; otherwise DataError names `source:line`.
    """
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    width = None
    for lineno, line in enumerate(text.splitlines() + [""], start=1):
        cols = [c for c in re.split(r"[ \t]+", line.strip(" \t\r\n")) if c]
        if not cols:
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        if cols[0] == "-DOCSTART-":
            continue
        if width is None:
            if len(cols) < 2:
                raise DataError(f"{source}:{lineno}: expected a token and a tag column, got {line.strip()!r}")
            width = len(cols)
        if len(cols) != width:
            raise DataError(f"{source}:{lineno}: {len(cols)} columns where earlier lines have {width}: "
                            f"{line.strip()!r}")
        tokens.append(cols[0])
        tags.append(cols[-1])
    return sentences


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) sentences of a CoNLL-style file; see parse_conll. No sentences -> DataError."""
    path = Path(path)
    sentences = parse_conll(read_text(path), source=str(path))
    if not sentences:
        raise DataError(f"{path}: no token lines (only -DOCSTART- or blank lines)")
    return sentences


def read_tsv_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(source, target) pairs from `source<TAB>target` lines (blank lines skipped).

    Columns after the second (e.g. an attribution) are ignored; a first line of
    column names (`source<TAB>target`, see HEADER_NAMES) is skipped. A non-blank
    line without a tab, or with an empty side, raises DataError naming `file:line`.
    """
    path = Path(path)
    pairs = []
    for lineno, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{path}:{lineno}: no tab between source and target: {line.strip()[:60]!r}")
        src, tgt = (c.strip() for c in line.split("\t")[:2])
        if not src or not tgt:
            raise DataError(f"{path}:{lineno}: empty {'source' if not src else 'target'}")
        if not pairs and src.lower() in HEADER_NAMES and tgt.lower() in HEADER_NAMES:
            continue          # a header row such as `source<TAB>target`
        pairs.append((src, tgt))
    if not pairs:
        raise DataError(f"{path}: no source<TAB>target lines")
    return pairs


# column names that make a first `a<TAB>b` line a header rather than a pair
HEADER_NAMES = {"source", "target", "src", "tgt", "input", "output", "text", "translation", "word", "pronunciation",
                "grapheme", "graphemes", "phoneme", "phonemes"}
