"""Figures: matplotlib on the Agg backend, inlined in the page as SVG and written as PNG with ``--png``."""
import base64
import io
import re
import warnings
from dataclasses import dataclass


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display, no network), text kept as text in SVG."""
    import matplotlib

    matplotlib.use("Agg")
    warnings.filterwarnings("ignore", message="Glyph .* missing from font")   # CJK text in a Latin font
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10,
                                "figure.dpi": 100, "svg.hashsalt": "rnnlab"})
    return plt


@dataclass
class Figure:
    name: str          # file name stem of the PNG
    figure: object     # a matplotlib Figure
    caption: str = ""


def svg(fig):
    """A figure as an inline <svg> element (no XML prolog, no external reference)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    start = text.find("<svg")
    text = re.sub(r"<metadata>.*?</metadata>", "", text[start:], flags=re.S)   # RDF with URIs: not needed inline
    # the same ids (clip paths, glyphs) recur in every figure of a page: make them unique per figure
    token = f"f{id(fig):x}"
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{token}-{m.group(1)}"', text)
    text = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{token}-{m.group(1)})", text)
    text = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{token}-{m.group(1)}"', text)
    return text


def png_bytes(fig, dpi=150):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def png_data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
