"""readers.py: user files, and one-line DataError messages that say which file and where."""
import pytest

from rnnlab.data import DataError, parse_conll, read_conll, read_labeled_csv, read_text, read_tsv_pairs


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def one_line_error(fn, path):
    with pytest.raises(DataError) as err:
        fn(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# ---------------------------------------------------------------- read_text

def test_read_text_normalizes_bom_and_newlines(tmp_path):
    path = write(tmp_path, "a.txt", b"\xef\xbb\xbfline one\r\nline two\rthree\n")
    assert read_text(path) == "line one\nline two\nthree\n"


def test_read_text_errors(tmp_path):
    assert "no such file" in one_line_error(read_text, tmp_path / "missing.txt")
    assert "empty" in one_line_error(read_text, write(tmp_path, "empty.txt", b""))
    assert "whitespace" in one_line_error(read_text, write(tmp_path, "blank.txt", b" \n\t\n"))
    assert "not a regular file" in one_line_error(read_text, tmp_path)


def test_read_text_names_offset_of_first_bad_byte(tmp_path):
    path = write(tmp_path, "latin1.txt", "café ok\n".encode("utf-8") + "naïve".encode("latin-1"))
    msg = one_line_error(read_text, path)
    bad = len("café ok\n".encode("utf-8")) + 2  # "na" then the latin-1 byte 0xef
    assert f"byte offset {bad}" in msg and "0xef" in msg


# ---------------------------------------------------------------- read_labeled_csv

def test_read_labeled_csv(tmp_path):
    path = write(tmp_path, "d.csv", 'id,Text ,label\n1,"good, really",pos\n2,bad,neg\n\n3,"multi\nline",pos\n')
    assert read_labeled_csv(path) == [("good, really", "pos"), ("bad", "neg"), ("multi\nline", "pos")]


def test_read_labeled_csv_missing_column_lists_found_columns(tmp_path):
    msg = one_line_error(read_labeled_csv, write(tmp_path, "d.csv", "sentence,label\nhi,a\nho,b\n"))
    assert "'text'" in msg and "'sentence'" in msg and "'label'" in msg


def test_read_labeled_csv_other_errors(tmp_path):
    assert "no data rows" in one_line_error(read_labeled_csv, write(tmp_path, "h.csv", "text,label\n"))
    assert "two classes" in one_line_error(read_labeled_csv, write(tmp_path, "one.csv", "text,label\na,x\nb,x\n"))
    msg = one_line_error(read_labeled_csv, write(tmp_path, "gap.csv", "text,label\na,x\n,y\n"))
    assert f"{tmp_path / 'gap.csv'}:3" in msg and "empty text" in msg


# ---------------------------------------------------------------- read_conll

def test_read_conll_two_and_four_columns(tmp_path):
    two = write(tmp_path, "two.txt", "-DOCSTART- O\n\nEU\tB-ORG\nrejects\tO\n \t\nPeter B-PER\n")
    assert read_conll(two) == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"])]
    four = write(tmp_path, "four.txt", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    assert read_conll(four) == [(["EU", "rejects"], ["B-ORG", "O"])]


def test_read_conll_ragged_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.txt", "EU B-ORG\nrejects\n")
    msg = one_line_error(read_conll, path)
    assert f"{path}:2" in msg
    msg = one_line_error(read_conll, write(tmp_path, "bad3.txt", "a b c\n\nd e\n"))
    assert "bad3.txt:3" in msg and "2 columns" in msg


def test_read_conll_without_tokens(tmp_path):
    assert "no token lines" in one_line_error(read_conll, write(tmp_path, "d.txt", "-DOCSTART- O\n\n"))


def test_parse_conll_keeps_tokens_with_non_ascii_spaces():
    assert parse_conll("a\u00a0b\tO\n") == [(["a\u00a0b"], ["O"])]


# ---------------------------------------------------------------- read_tsv_pairs

def test_read_tsv_pairs(tmp_path):
    path = write(tmp_path, "p.tsv", "Go.\tVe.\n\nHi there.\t¡Hola!\tCC-BY attribution\n")
    assert read_tsv_pairs(path) == [("Go.", "Ve."), ("Hi there.", "¡Hola!")]


def test_read_tsv_pairs_errors(tmp_path):
    msg = one_line_error(read_tsv_pairs, write(tmp_path, "p.tsv", "Go.\tVe.\nno tab here\n"))
    assert f"{tmp_path / 'p.tsv'}:2" in msg and "no tab" in msg
    msg = one_line_error(read_tsv_pairs, write(tmp_path, "q.tsv", "Go.\t \n"))
    assert "q.tsv:1" in msg and "empty target" in msg
