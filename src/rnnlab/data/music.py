"""Bach chorales from the music21 wheel, as quarter-note piano rolls plus the soprano line.

The .mxl files are read straight out of `music21==10.5.1`'s wheel; parsing
MusicXML needs music21 itself (the `music` extra), which also supplies the
Riemenschneider list of the 371 chorales (`music21.corpus.chorales`). That
list names 350 distinct files (a few chorales appear under two numbers); each
file is kept once, in order of its first Riemenschneider number, so no score
can land in both train and test.

Frames are one quarter note long, the setting of the classic JSB Chorales
piano-roll benchmark (Boulanger-Lewandowski et al., 2012): frame k holds the
MIDI pitches of the vocal parts (Soprano/Alto/Tenor/Bass; instrumental
parts are dropped) sounding at time k quarters, sorted ascending. The parsed set is
cached as JSON, so music21 runs only on first use (about 25 s for all 350).

One chorale (a dict):
    name:            "bwv269"
    riemenschneider: 1                       # its first number in the 1..371 list
    frames:          [(48, 55, 64, 72), ...] # n_frames tuples of sorted MIDI pitches
    soprano:         [(72, 1.0), (None, 0.5), ...]  # (MIDI pitch or None for a rest, quarters)
"""
from __future__ import annotations

import io
import math
import re
import zipfile

from .errors import DatasetUnavailable
from .fetch import Archive, cached_json, fetch_archive, list_members, read_members

MUSIC21 = Archive("music21", "10.5.1", "music21-10.5.1-py3-none-any.whl",
                  "dc3309498c4c95cebdf8d4f20c868deb6b63bce1d929cad4f51a7ccc982987b1")

_EPS = 1e-6


def pianoroll(notes: list[tuple[float, float, int]], frame: float = 1.0) -> list[tuple[int, ...]]:
    """Sample (offset, duration, midi) notes every `frame` quarters.

    Frame k holds the sorted distinct pitches with offset <= k*frame < offset+duration.
    Zero-length notes (grace notes) never sound. n_frames = ceil(end / frame).
    """
    end = max((o + d for o, d, _ in notes), default=0.0)
    frames: list[set[int]] = [set() for _ in range(math.ceil(end / frame - _EPS))]
    for offset, duration, midi in notes:
        if duration <= 0:
            continue
        first = math.ceil(offset / frame - _EPS)
        for k in range(first, len(frames)):
            if k * frame >= offset + duration - _EPS:
                break
            frames[k].add(midi)
    return [tuple(sorted(f)) for f in frames]


def mxl_to_musicxml(data: bytes) -> bytes:
    """The score file inside a compressed .mxl (its META-INF/container.xml names it)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        container = zf.read("META-INF/container.xml")
        root = re.search(rb'full-path="([^"]+)"', container)
        return zf.read(root.group(1).decode() if root else
                       next(n for n in zf.namelist() if n.endswith(".xml") and not n.startswith("META-INF")))


def _music21():
    try:
        import music21
    except ImportError:
        raise DatasetUnavailable("bach_chorales needs music21 to parse MusicXML; "
                                 "install it with: pip install music21==10.5.1") from None
    return music21


_VOICES = ("soprano", "alto", "tenor", "bass")


def vocal_parts(score) -> list:
    """The parts named Soprano/Alto/Tenor/Bass (first word of the part name), in score order.

    Most chorales have exactly these four; 18 add instruments (trumpets,
    horns, timpani, continuo), which are left out. A score without such
    names falls back to all its parts.
    """
    parts = [p for p in score.parts if (p.partName or "").split(" ")[0].lower() in _VOICES]
    return parts or list(score.parts)


def score_notes(parts) -> list[tuple[float, float, int]]:
    """(offset, duration, midi) of every pitch in the given music21 parts (quarters)."""
    out = []
    for part in parts:
        for n in part.flatten().notes:
            for p in n.pitches:
                out.append((float(n.offset), float(n.quarterLength), int(p.midi)))
    return out


def soprano_line(part) -> list[tuple[int | None, float]]:
    """(MIDI pitch or None for a rest, duration in quarters) of one part, ties merged."""
    line = []
    for n in part.stripTies().flatten().notesAndRests:
        if n.quarterLength <= 0:
            continue  # grace notes take no time
        pitch = None if n.isRest else max(p.midi for p in n.pitches)
        line.append((pitch, float(n.quarterLength)))
    return line


def chorale_members(members: list[str], wanted: list[str]) -> list[tuple[str, str, int]]:
    """(name, archive member, first number) for each distinct corpus path in `wanted` ("bach/bwv269").

    A path resolves to `music21/corpus/<path>.mxl` (or .xml), else to the one
    file whose name starts with it (music21 resolves "bwv18.5-l" to "bwv18.5-lz").
    """
    by_stem = {m[len("music21/corpus/"):].rsplit(".", 1)[0]: m for m in members
               if m.startswith("music21/corpus/bach/") and m.endswith((".mxl", ".xml"))}
    out, seen = [], set()
    for number, want in enumerate(wanted, start=1):
        member = by_stem.get(want) or next((by_stem[s] for s in sorted(by_stem) if s.startswith(want)), None)
        if member is None or member in seen:
            continue
        seen.add(member)
        out.append((member.rsplit("/", 1)[1].rsplit(".", 1)[0], member, number))
    return out


def load_bach_chorales() -> list[dict]:
    """The 350 distinct Riemenschneider chorales; see the module docstring for the format."""
    def build():
        music21 = _music21()
        wanted = list(music21.corpus.chorales.Iterator(returnType="filename"))
        path = fetch_archive(MUSIC21)
        todo = chorale_members(list_members(path), wanted)
        files = read_members(path, {member for _, member, _ in todo}.__contains__)
        chorales = []
        for name, member, number in todo:
            data = files[member]
            xml = mxl_to_musicxml(data) if member.endswith(".mxl") else data
            score = music21.converter.parseData(xml.decode("utf-8"), format="musicxml")
            parts = vocal_parts(score)
            chorales.append({"name": name, "riemenschneider": number,
                             "frames": pianoroll(score_notes(parts)), "soprano": soprano_line(parts[0])})
        return chorales

    chorales = cached_json("bach_chorales-music21-10.5.1-v2", build)
    for c in chorales:
        c["frames"] = [tuple(f) for f in c["frames"]]
        c["soprano"] = [tuple(s) for s in c["soprano"]]
    return chorales
