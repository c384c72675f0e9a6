"""music.py: piano-roll sampling, .mxl unpacking, chorale file resolution, part handling."""
import io
import zipfile

import pytest

from rnnlab.data.music import chorale_members, mxl_to_musicxml, pianoroll


def test_pianoroll_samples_sounding_pitches_at_each_quarter():
    notes = [(0.0, 2.0, 60), (0.0, 1.0, 64), (1.0, 0.5, 67), (1.5, 1.0, 72),  # 72 sounds at t=2
             (3.0, 0.0, 90),  # grace note: never sounds
             (3.25, 0.5, 50)]  # starts off the beat and ends before t=4: missed by sampling
    assert pianoroll(notes) == [(60, 64), (60, 67), (72,), ()]
    assert pianoroll(notes, frame=0.5)[:5] == [(60, 64), (60, 64), (60, 67), (60, 72), (72,)]
    assert pianoroll([]) == []


def test_mxl_to_musicxml_follows_container():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("META-INF/container.xml", '<container><rootfiles><rootfile full-path="x/s.xml"/>'
                                              "</rootfiles></container>")
        zf.writestr("x/s.xml", b"<score-partwise/>")
    assert mxl_to_musicxml(buf.getvalue()) == b"<score-partwise/>"


def test_chorale_members_dedupes_and_resolves_prefixes():
    members = ["music21/corpus/bach/bwv269.mxl", "music21/corpus/bach/bwv18.5-lz.mxl",
               "music21/corpus/bach/bwv69.6.xml", "music21/corpus/bach/bwv277.krn",
               "music21/corpus/bach/choraleAnalyses/riemenschneider001.rntxt"]
    wanted = ["bach/bwv269", "bach/bwv18.5-l", "bach/bwv269", "bach/bwv69.6", "bach/bwv999"]
    assert chorale_members(members, wanted) == [
        ("bwv269", "music21/corpus/bach/bwv269.mxl", 1),
        ("bwv18.5-lz", "music21/corpus/bach/bwv18.5-lz.mxl", 2),
        ("bwv69.6", "music21/corpus/bach/bwv69.6.xml", 4)]


def test_vocal_parts_and_soprano_line():
    music21 = pytest.importorskip("music21")
    from music21 import note, stream, tie

    from rnnlab.data.music import score_notes, soprano_line, vocal_parts

    def part(name, events):
        p = stream.Part()
        p.partName = name
        for pitch, ql, tied in events:
            n = note.Rest(quarterLength=ql) if pitch is None else note.Note(pitch, quarterLength=ql)
            if tied:
                n.tie = tie.Tie(tied)
            p.append(n)
        return p

    score = stream.Score()
    score.insert(0, part("Horn 1", [(84, 4.0, None)]))
    score.insert(0, part("Soprano", [(72, 1.0, "start"), (72, 1.0, "stop"), (None, 1.0, None), (74, 1.0, None)]))
    score.insert(0, part("Bass", [(48, 4.0, None)]))
    parts = vocal_parts(score)
    assert [p.partName for p in parts] == ["Soprano", "Bass"]
    assert soprano_line(parts[0]) == [(72, 2.0), (None, 1.0), (74, 1.0)]
    assert pianoroll(score_notes(parts)) == [(48, 72), (48, 72), (48,), (48, 74)]
    assert music21 is not None
