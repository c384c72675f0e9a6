"""``rnnlab report``: see inside a trained network, one self-contained HTML page per report.

    from rnnlab import report
    r = report("runs/charlm")              # or report("runs/rnn", "runs/lstm") to compare runs
    r                                      # in a notebook: displayed inline (_repr_html_)
    r.save("runs/charlm/report.html")      # the same page as `rnnlab report runs/charlm`
    r.save_png("figures/")                 # every figure as a PNG (matplotlib)

For each run: the model drawn as the article draws it (the cell folded and unrolled over
real input), its training curves, the gradient flow through time computed with the
engine's BPTT on held-out sequences, the hidden units that track simple features of the
input, and the task's own section (samples, confusion matrix, tagged sentences,
attention, piano roll, captions). See ``rnnlab.report.sections`` for adding a task.
"""
import os


class Report:
    """A rendered report: ``html`` (the page) and its figures; displays inline in notebooks."""

    def __init__(self, html, figures):
        self.html = html
        self.figures = figures          # [(run name, figures.Figure)]

    def _repr_html_(self):
        return self.html

    def save(self, path):
        """Write the page to ``path`` (atomically) and return the path."""
        from ..train.checkpoint import atomic_write_bytes

        check_out(path)
        atomic_write_bytes(path, self.html.encode("utf-8"))
        return path

    def save_png(self, folder, dpi=150):
        """Every figure as ``folder/<run>-<figure>.png``; returns the paths."""
        from .figures import png_bytes

        os.makedirs(folder, exist_ok=True)
        paths = []
        for run, fig in self.figures:
            path = os.path.join(folder, f"{run}-{fig.name}.png")
            with open(path, "wb") as f:
                f.write(png_bytes(fig.figure, dpi))
            paths.append(path)
        return paths

    def close(self):
        """Drop the figures (the page keeps its SVG copies)."""
        self.figures = []


def check_out(path):
    """ValueError when the page cannot be written to ``path``: a folder, or inside a folder that does not exist."""
    if os.path.isdir(path):
        raise ValueError(f"--out {path} is a directory; give the HTML file's name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--out {path}: the folder {folder} does not exist")


def check_png_folder(folder):
    """ValueError when ``folder`` (or a folder above it) is an existing file."""
    at = os.path.abspath(folder)
    while at and not os.path.exists(at):
        at = os.path.dirname(at)
    if at and not os.path.isdir(at):
        raise ValueError(f"--png {folder}: {at} is a file, not a folder for the figures")


def report(*run_dirs):
    """A Report of one or more run directories of `rnnlab train` (several: compared side by side)."""
    if not run_dirs:
        raise ValueError("report needs at least one run directory")
    from .figures import Plotter, style
    from .page import render
    from .run import load_run_data

    with _one_blas_thread(), style():
        runs = [load_run_data(str(d)) for d in run_dirs]
        html, figures = render(runs, Plotter())
    return Report(html, figures)


def _one_blas_thread():
    """The report's products are small (16-256 rows): more BLAS threads only spin against each other."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


__all__ = ["Report", "report"]
