"""bible.py: OSIS cleanup, the zText format and .deb reading, on tiny synthetic modules."""
import io
import struct
import tarfile
import zlib

import pytest

from rnnlab.data import bible
from rnnlab.data.errors import DatasetUnavailable
from rnnlab.data.fetch import sha256_file


def test_clean_osis():
    markup = ('<div type="x-milestone" subType="x-preverse" sID="pv1"/>¶ And <w lemma="strong:H0430">God</w> '
              '<transChange type="added">was</transChange> \\nd LORD<note type="x-footnote">a note</note> , '
              '<title type="section">Heading</title>&amp; good.')
    assert bible.clean_osis(markup) == "And God was LORD, & good."
    assert bible.clean_osis('<w>¿</w> <w>Qué</w> ?') == "¿Qué?"
    assert bible.clean_osis('<title canonical="true" type="psalm">A Psalm.</title> Hear me') == "A Psalm. Hear me"
    assert bible.clean_osis('<chapter n="1" osisID="Gen.1" sID="Gen.1"/> ') == ""


def ztext(entries, per_block=2):
    """bzs, bzv, bzz bytes of a zText testament holding `entries` (str, "" for none)."""
    bzs, bzv, bzz = b"", b"", b""
    for start in range(0, len(entries), per_block):
        block_no, plain = len(bzs) // 12, b""
        for text in entries[start:start + per_block]:
            data = text.encode("utf-8")
            bzv += struct.pack("<IIH", block_no, len(plain), len(data))
            plain += data
        packed = zlib.compress(plain)
        bzs += struct.pack("<III", len(bzz), len(packed), len(plain))
        bzz += packed
    return bzs, bzv, bzz


def test_ztext_entries_round_trip():
    entries = ["", "<milestone/>", "In the beginning", "", "God créó"]
    assert bible.ztext_entries(*ztext(entries)) == entries


def make_deb(path, module, testaments):
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:xz") as tf:
        for t, entries in testaments.items():
            for ext, data in zip(("bzs", "bzv", "bzz"), ztext(entries)):
                info = tarfile.TarInfo(f"./usr/share/sword/modules/texts/ztext/{module}/{t}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    members = [("debian-binary", b"2.0\n"), ("data.tar.xz", tar_buf.getvalue())]
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    path.write_bytes(out)


def test_load_bible_from_debs_in_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(bible, "SYSTEM_SWORD", tmp_path / "no-system-sword")
    with pytest.raises(DatasetUnavailable) as err:
        bible.load_bible_en_es()
    msg = str(err.value)
    assert "\n" not in msg and "apt-get download sword-text-kjv" in msg and str(tmp_path / "archives") in msg

    (tmp_path / "archives").mkdir()
    en = {"ot": ["", "<chapter/>", "In the beginning.", "Missing in Spanish."], "nt": ["", "Jesus wept ."]}
    es = {"ot": ["", "<chapter/>", "En el principio.", ""], "nt": ["", "Jesús lloró."]}
    modules = {}
    for module, texts in (("engKJV2006eb", en), ("spaRV1909eb", es)):
        package, deb_name, _ = bible.MODULES[module]
        make_deb(tmp_path / "archives" / deb_name, module, texts)
        modules[module] = (package, deb_name, sha256_file(tmp_path / "archives" / deb_name))
    monkeypatch.setattr(bible, "MODULES", modules)
    assert bible.load_bible_en_es() == [("In the beginning.", "En el principio."), ("Jesus wept.", "Jesús lloró.")]
