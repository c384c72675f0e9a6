"""twemoji.py: emoji names from code points, PNG -> float array."""
import io

import numpy as np
import pytest

from rnnlab.data.twemoji import emoji_name

EMOJI_DATA = {  # the shape of emoji.EMOJI_DATA
    "\U0001f40a": {"en": ":crocodile:"},
    "\u2764\ufe0f": {"en": ":red_heart:"},
    "\U0001f575\ufe0f\u200d\u2642\ufe0f": {"en": ":man_detective:"},
    "\u00a9\ufe0f": {"en": ":copyright:"},
}


def test_emoji_name_tries_with_and_without_fe0f():
    assert emoji_name("1f40a", EMOJI_DATA) == "crocodile"
    assert emoji_name("2764", EMOJI_DATA) == "red heart"  # file lacks FE0F, data has it
    assert emoji_name("1f575-200d-2642-fe0f", EMOJI_DATA) == "man detective"  # FE0F after the first code point
    assert emoji_name("a9-fe0f", EMOJI_DATA) == "copyright"
    assert emoji_name("1f1e6", EMOJI_DATA) is None


def test_png_to_array_composites_on_white_and_downsamples():
    Image = pytest.importorskip("PIL.Image")
    from rnnlab.data.twemoji import png_to_array

    rgba = np.zeros((72, 72, 4), dtype=np.uint8)
    rgba[:36, :, :] = (255, 0, 0, 255)  # opaque red top half, transparent bottom half
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    img = png_to_array(buf.getvalue(), size=24)
    assert img.shape == (24, 24, 3) and img.dtype == np.float32
    np.testing.assert_allclose(img[0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(img[-1, -1], [1.0, 1.0, 1.0])
