"""text.py parsers on small inline samples: Shakespeare markdown, Rotten Tomatoes CSV, CMUdict."""
from rnnlab.data.text import clean_play, parse_cmudict, parse_rotten_tomatoes

PLAY = """# The Tempest

## ACT I

### SCENE I. On a ship at sea.

_A tempestuous noise of thunder and lightning heard. Enter a
Ship-Master and a Boatswain_

**Master**  
Boatswain!

**PAGE**  
[Within]_  
Who's there? \\--'Ladies,'

*Exit Audley.*

Hark, hark!

_Burthen _\\[dispersedly, within_

The watch-dogs bark!  
_Exeunt_
"""


def test_clean_play_strips_markup_and_keeps_speakers():
    assert clean_play(PLAY) == (
        "Master:\nBoatswain!\n\nPAGE:\nWho's there? --'Ladies,'\n\nHark, hark!\n\nThe watch-dogs bark!\n")


def test_clean_play_without_speakers():
    out = clean_play(PLAY, speakers=False)
    assert out.startswith("Boatswain!\n\nWho's there?")
    for mark in ("#", "*", "_", "\\", "  \n", "\n\n\n"):
        assert mark not in out


def test_rotten_tomatoes_keeps_fresh_rotten_and_dedupes():
    csv_text = ('category,text,movie_name,has_plot_and_reviews\n'
                'plot,"A man, a plan.",m1,True\n'
                'fresh,"Great, truly.",m1,True\n'
                'rotten,Dull.,m2,True\n'
                'fresh,"Great, truly.",m3,True\n')
    assert parse_rotten_tomatoes(csv_text) == [("Great, truly.", "fresh"), ("Dull.", "rotten")]


CMU = """'bout B AW1 T
a AH0
a(2) EY1
aalborg AO1 L B AO0 R G # place, danish
"""


def test_cmudict_alternates_comments_and_stress():
    assert parse_cmudict(CMU) == [("'bout", ["B", "AW1", "T"]), ("a", ["AH0"]), ("a", ["EY1"]),
                                  ("aalborg", ["AO1", "L", "B", "AO0", "R", "G"])]
    assert [w for w, _ in parse_cmudict(CMU, alternates=False)] == ["'bout", "a", "aalborg"]
    assert parse_cmudict(CMU, stress=False)[0] == ("'bout", ["B", "AW", "T"])
