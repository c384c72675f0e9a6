"""tagging.py parsers on small inline samples: People's Daily NER/POS and CoNLL-U."""
from rnnlab.data.tagging import (char_bio, entity_spans, parse_conllu, parse_conllu_texts, parse_peoples_daily,
                                 parse_pku_line)


def test_adjacent_nr_words_are_one_person():
    words = parse_pku_line("国家/n  主席/n  江/nr  泽民/nr  访问/v  美国/ns  。/w")
    assert entity_spans(words) == [(2, 4, "PER"), (5, 6, "LOC")]
    chars, tags = char_bio(words)
    assert "".join(chars) == "国家主席江泽民访问美国。"
    assert tags == ["O"] * 4 + ["B-PER", "I-PER", "I-PER"] + ["O", "O"] + ["B-LOC", "I-LOC", "O"]


def test_bracketed_compound_is_one_entity_of_its_outer_tag():
    words = parse_pku_line("[中国/ns  政府/n]nt  和/c  [香港/ns  特别/a  行政区/n]ns  、/w  新华社/nt")
    assert [w[2] for w in words] == [(0, "nt"), (0, "nt"), None, (1, "ns"), (1, "ns"), (1, "ns"), None, None]
    assert entity_spans(words) == [(0, 2, "ORG"), (3, 6, "LOC"), (7, 8, "ORG")]
    chars, tags = char_bio(words)
    assert tags[:4] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"] and tags[4] == "O"
    assert tags[5] == "B-LOC" and tags[6:11] == ["I-LOC"] * 5


def test_bracket_with_non_entity_tag_keeps_inner_entities():
    words = parse_pku_line("[北京/ns  大学/n]l  王/nr  小明/nr")
    assert entity_spans(words) == [(0, 1, "LOC"), (2, 4, "PER")]


def test_document_ids_and_punctuation_brackets():
    words = parse_pku_line("19980101-01-001-001/m  [/w  李/nr  ]/w")
    assert [(w, t) for w, t, _ in words] == [("[", "w"), ("李", "nr"), ("]", "w")]


def test_parse_peoples_daily_sentences_and_pos():
    text = "他/r  说/v  ：/w  “/w  好/a  。/w  ”/w  张/nr  三/nr  来/v  了/u  ！/w\n\n北京/ns\n"
    ner = parse_peoples_daily(text)
    assert ["".join(c) for c, _ in ner] == ["他说：“好。”", "张三来了！", "北京"]
    assert ner[1][1] == ["B-PER", "I-PER", "O", "O", "O"]
    pos = parse_peoples_daily(text, scheme="pos", split_sentences=False)
    assert pos[0][0][:3] == ["他", "说", "："] and pos[0][1][:3] == ["r", "v", "w"] and len(pos) == 2
    assert all(len(a) == len(b) for a, b in ner + pos)


CONLLU = """# sent_id = 1
# text = Gitmek istemiyorum.
1-2\tGitmek\t_\t_\t_\t_\t_\t_\t_\t_
1\tGit\tgit\tVERB\t_\t_\t0\troot\t_\t_
2\tmek\t_\tNOUN\t_\t_\t1\tig\t_\t_
2.1\tghost\t_\tX\t_\t_\t_\t_\t_\t_
3\t.\t.\tPUNCT\t_\t_\t1\tp\t_\t_

1\tTamam\ttamam\tADV\t_\t_\t0\troot\t_\t_
"""


def test_conllu_skips_comments_multiword_and_empty_nodes():
    assert parse_conllu(CONLLU) == [(["Git", "mek", "."], ["VERB", "NOUN", "PUNCT"]), (["Tamam"], ["ADV"])]


def test_conllu_texts_are_the_sentences_as_written():
    assert parse_conllu_texts(CONLLU) == ["Gitmek istemiyorum.", "Tamam"]     # the second has no text line
