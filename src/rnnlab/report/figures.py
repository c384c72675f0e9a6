"""Figures: bare matplotlib Figures (no pyplot), inlined in the page as SVG and written as PNG with ``--png``."""
import base64
import io
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

RC = {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "figure.dpi": 100, "svg.hashsalt": "rnnlab"}


class Plotter:
    """The part of pyplot the report uses, on bare Figures: no backend switch, no global figure list.

    So a report made in a notebook leaves its plotting backend alone, and figures are freed
    with the Report that holds them.
    """

    @staticmethod
    def subplots(nrows=1, ncols=1, figsize=None, **kw):
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **kw)


@contextmanager
def style():
    """The report's matplotlib settings (text kept as text in SVG), for the duration of a ``with``."""
    import matplotlib

    with warnings.catch_warnings(), matplotlib.rc_context(RC):
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")   # CJK text in a Latin font
        yield


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
    with style():
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def png_data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
