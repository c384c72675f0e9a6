"""Verse-aligned English-Spanish Bible (King James 2006 / Reina-Valera 1909) for translation.

The texts come from the Debian packages sword-text-kjv and sword-text-sparv
(not on PyPI). They are found either installed (/usr/share/sword, via
`apt-get install`) or as the two .deb files in <cache>/archives (fetched
without root by `apt-get download`), read straight out of the .deb
(an `ar` archive holding data.tar.xz). Nothing is ever downloaded here: when
neither is present, DatasetUnavailable gives the commands.

Both modules are SWORD zText modules in KJV versification, so entry i of
one module's verse index is the same verse as entry i of the other's:

    <t>.bzv  10 bytes per entry: block (u32), offset in block (u32), size (u16)
    <t>.bzs  12 bytes per block: offset in .bzz (u32), compressed size (u32), size (u32)
    <t>.bzz  zlib-compressed blocks of OSIS-marked UTF-8 text

Entries that are book or chapter headings clean to "" and are skipped, as
are verses missing from either translation. Result: list[(english, spanish)].
"""
from __future__ import annotations

import html
import io
import re
import struct
import tarfile
import zlib
from pathlib import Path

from .errors import DatasetUnavailable
from .fetch import archive_dir, cached_json, sha256_file

SYSTEM_SWORD = Path("/usr/share/sword")
MODULES = {  # module: (Debian package, .deb file, sha256 of the .deb)
    "engKJV2006eb": ("sword-text-kjv", "sword-text-kjv_14.3-1_all.deb",
                     "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57"),
    "spaRV1909eb": ("sword-text-sparv", "sword-text-sparv_2.60-1_all.deb",
                    "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf"),
}

_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
_TITLE = re.compile(r"<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.S)  # headings, not psalm titles
_TAG = re.compile(r"<[^>]+>")


def clean_osis(markup: str) -> str:
    """Plain text of one OSIS verse.

    Notes and non-canonical titles are dropped, other tags unwrapped, entities
    decoded; USFM leftovers (`\\nd `) and KJV paragraph marks (¶) removed;
    spacing around punctuation tidied ("word ," -> "word,", "¿ Qué" -> "¿Qué").
    """
    text = _TAG.sub(" ", _TITLE.sub(" ", _NOTE.sub(" ", markup)))
    text = re.sub(r"\\[a-z]+\*?", " ", html.unescape(text)).replace("¶", " ")
    text = " ".join(text.split())
    text = re.sub(r" ([,.;:!?)\]])", r"\1", text)
    return re.sub(r"([¿¡(\[]) ", r"\1", text)


def ztext_entries(bzs: bytes, bzv: bytes, bzz: bytes) -> list[str]:
    """Raw OSIS text of every verse-index entry of one testament of a zText module ("" if empty)."""
    blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs) - 11, 12)]
    plain: dict[int, bytes] = {}
    out = []
    for i in range(0, len(bzv) - 9, 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, i)
        if size == 0 or block >= len(blocks):
            out.append("")
            continue
        if block not in plain:
            start, csize, _ = blocks[block]
            plain[block] = zlib.decompress(bzz[start:start + csize])
        out.append(plain[block][offset:offset + size].decode("utf-8", errors="replace"))
    return out


def _deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The data.tar.* member of a .deb (a Unix `ar` archive), opened for reading."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise DatasetUnavailable(f"{deb} is not a .deb archive; delete it and fetch it again")
    pos = 8
    while pos + 60 <= len(raw):
        name = raw[pos:pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48:pos + 58].decode().strip())
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(raw[pos + 60:pos + 60 + size]), mode="r:*")
        pos += 60 + size + (size % 2)
    raise DatasetUnavailable(f"{deb} holds no data.tar member")


def _module_files(module: str) -> dict[str, bytes]:
    """{"ot.bzs": bytes, ...} for a module, from /usr/share/sword or from its .deb in the cache."""
    package, deb_name, digest = MODULES[module]
    names = [f"{t}.{ext}" for t in ("ot", "nt") for ext in ("bzs", "bzv", "bzz")]
    installed = SYSTEM_SWORD / "modules/texts/ztext" / module
    if all((installed / n).exists() for n in names):
        return {n: (installed / n).read_bytes() for n in names}
    deb = archive_dir() / deb_name
    if not deb.exists():
        raise DatasetUnavailable(
            f"{package} ({deb_name}) is neither installed nor in the cache; get both Bible packages with: "
            f"mkdir -p {archive_dir()} && cd {archive_dir()} && apt-get download sword-text-kjv=14.3-1 "
            f"sword-text-sparv=2.60-1 (or: sudo apt-get install sword-text-kjv sword-text-sparv)")
    if sha256_file(deb) != digest:
        raise DatasetUnavailable(f"{deb} does not have the pinned sha256 {digest[:16]}...; "
                                 f"delete it and run: cd {archive_dir()} && apt-get download {package}")
    with _deb_data_tar(deb) as tar:
        prefix = f"./usr/share/sword/modules/texts/ztext/{module}/"
        return {n: tar.extractfile(prefix + n).read() for n in names}


def load_bible_en_es() -> list[tuple[str, str]]:
    """(English, Spanish) verse pairs in canonical order (Genesis 1:1 first)."""
    def build():
        en, es = _module_files("engKJV2006eb"), _module_files("spaRV1909eb")
        pairs = []
        for t in ("ot", "nt"):
            a = ztext_entries(en[f"{t}.bzs"], en[f"{t}.bzv"], en[f"{t}.bzz"])
            b = ztext_entries(es[f"{t}.bzs"], es[f"{t}.bzv"], es[f"{t}.bzz"])
            if len(a) != len(b):
                raise DatasetUnavailable(f"the two Bible modules disagree on the {t} verse count "
                                         f"({len(a)} vs {len(b)}); expected KJV versification in both")
            for x, y in zip(a, b):
                x, y = clean_osis(x), clean_osis(y)
                if x and y:
                    pairs.append((x, y))
        return pairs

    return [tuple(p) for p in cached_json("bible_en_es-kjv2006-rv1909-v2", build)]
