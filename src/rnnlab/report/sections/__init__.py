"""What each task adds to a report, as one small view per task, found by the task's name.

A view says how the task's model is shaped (the article's architectures), which of its
recurrent layers to look inside, how to run that model on real held-out data of the run,
and what the task's own section shows. ``view_for("speech")`` imports
``rnnlab.report.sections.speech`` and takes its ``VIEW``; a task without a module gets the
plain ``View``: the model, training, gradient-flow and hidden-unit sections, which need
only a recurrent layer called ``rnn`` and the task's held-out data.
"""
import importlib
from dataclasses import dataclass, field

SHAPES = {
    "one-to-one": "one-to-one: a plain dense network over the whole input at once, no recurrence",
    "one-to-many": "one-to-many: one input (or a start token) and an output at every step, each output fed back as "
                   "the next input when generating",
    "many-to-one": "many-to-one: an input at every step, one output after the last",
    "many-to-many": "many-to-many, equal length: an output for every input",
    "encoder-decoder": "many-to-many, encoder–decoder: the encoder reads the whole input, the decoder writes the output",
}


@dataclass
class Step:
    """One step of the unrolled drawing: what goes in and (if anything) what comes out."""

    input: str | None
    output: str | None = None
    part: str = "rnn"          # "rnn", or "encoder" / "decoder" for encoder-decoder models


@dataclass
class Batch:
    """Held-out sequences and how to run the model on them (its own loss, no dropout)."""

    run: object                   # callable: runs the model's forward and backward once
    tokens: list                  # per sequence, the label of each step the watched layer sees
    features: dict = field(default_factory=dict)   # optional name -> per-sequence arrays
    lengths: object = None        # valid steps per sequence, when the layer is run on padding without lengths


@dataclass
class Section:
    id: str
    title: str
    parts: list                   # HTML strings and figures.Figure objects, in order


class View:
    """The defaults: a recurrent layer called ``rnn`` and no task section."""

    shape = "many-to-many"
    layer_name = "rnn"

    def layer(self, run):
        return run.model.modules.get(self.layer_name)

    def shape_of(self, run):
        """The article's architecture this run's model has (a key of SHAPES)."""
        return self.shape

    def gradient_batch(self, run):
        """A Batch of held-out sequences for gradient flow; None when the task cannot give one."""
        return None

    def activation_batch(self, run):
        """A Batch for the hidden-unit section (default: the gradient-flow batch)."""
        return self.gradient_batch(run)

    def unrolled(self, run):
        """The first steps of a real input as a list of Step, for the unrolled drawing."""
        batch = self.gradient_batch(run)
        if batch is None or not batch.tokens:
            return [Step(f"x{t + 1}", f"y{t + 1}") for t in range(4)]
        return [Step(tok, "y") for tok in batch.tokens[0][:6]]

    def sections(self, run, plt):
        """The task's own sections (a list of Section)."""
        return []


def view_for(task):
    try:
        module = importlib.import_module(f".{task}", __name__)
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{task}":
            return View()
        raise
    return module.VIEW


def esc(text):
    """HTML-escaped text."""
    import html

    return html.escape(str(text), quote=True)


def table(header, rows, cls="num"):
    """An HTML table; numbers are formatted to 4 significant digits."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return esc(v)

    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
