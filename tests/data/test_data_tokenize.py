"""tokenize.py: tokenizers and the JSON-serialized Vocab."""
import pytest

from rnnlab.data import CharTokenizer, MixedTokenizer, Vocab, WordTokenizer, get_tokenizer


def test_char_tokenizer_round_trips():
    text = "Hi,\n Bob 鲍勃"
    tok = CharTokenizer()
    assert tok.tokenize(text) == list(text)
    assert tok.detokenize(tok.tokenize(text)) == text


def test_word_tokenizer_splits_punctuation_keeps_contractions():
    assert WordTokenizer().tokenize("Bob's dog, Rex -- barked!") == ["Bob's", "dog", ",", "Rex", "-", "-", "barked", "!"]
    assert WordTokenizer(lower=True).tokenize("The CAT.") == ["the", "cat", "."]
    assert WordTokenizer().detokenize(["a", "b", "."]) == "a b ."


def test_mixed_tokenizer_splits_cjk_into_characters():
    tok = MixedTokenizer(lower=True)
    assert tok.tokenize("鲍勃比Tom强壮, 我爱NumPy 2.0!") == [
        "鲍", "勃", "比", "tom", "强", "壮", ",", "我", "爱", "numpy", "2", ".", "0", "!"]
    assert tok.tokenize("すしが好き") == ["す", "し", "が", "好", "き"]
    assert MixedTokenizer().detokenize(["我", "爱", "New", "York", "!"]) == "我爱New York !"


def test_get_tokenizer():
    assert isinstance(get_tokenizer("mixed", lower=True), MixedTokenizer)
    assert get_tokenizer("word", lower=True).lower
    with pytest.raises(ValueError, match="known: char, word, mixed"):
        get_tokenizer("bpe")


def test_vocab_build_order_specials_and_limits():
    seqs = [["b", "a", "c"], ["a", "b", "a"], ["d"]]
    v = Vocab.build(seqs)
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "d"]  # by count, ties alphabetical
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, None, None)
    assert Vocab.build(seqs, min_freq=2).itos == ["<pad>", "<unk>", "a", "b"]
    assert Vocab.build(seqs, max_size=3).itos == ["<pad>", "<unk>", "a"]
    assert Vocab.build(reversed(seqs)).itos == v.itos  # independent of input order
    w = Vocab.build(seqs, bos_eos=True)
    assert w.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and (w.bos_id, w.eos_id) == (2, 3)
    with pytest.raises(ValueError, match="no room"):
        Vocab.build(seqs, max_size=1)


def test_vocab_encode_decode():
    v = Vocab.build([["x", "y"]], bos_eos=True)
    ids = v.encode(["x", "zzz", "y"], bos=True, eos=True)
    assert ids == [2, v.stoi["x"], 1, v.stoi["y"], 3]
    assert v.decode(ids + [0, 0]) == ["x", "<unk>", "y"]
    assert v.decode(ids, skip_special=False) == ["<bos>", "x", "<unk>", "y", "<eos>"]
    with pytest.raises(ValueError, match="outside"):
        v.decode([99])
    with pytest.raises(ValueError, match="no <bos>"):
        Vocab.build([["x"]]).encode(["x"], bos=True)


def test_vocab_json_round_trip(tmp_path):
    v = Vocab.build([list("鲍勃 likes tea")], bos_eos=True)
    assert Vocab.from_json(v.to_json()).itos == v.itos
    v.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").stoi == v.stoi
    with pytest.raises(ValueError, match="starts with"):
        Vocab(["a", "<pad>"])
    with pytest.raises(ValueError, match="twice"):
        Vocab(["<pad>", "<unk>", "a", "a"])
