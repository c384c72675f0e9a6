"""Assembling the report: one self-contained HTML page (inline SVG and PNG, no script, nothing fetched)."""
import numpy as np

from . import activations, graph
from .figures import Figure, svg
from .gradient_flow import average_norms, flow_figure, step_norms
from .probe import watch
from .sections import SHAPES, Section, esc, table, view_for
from .training import curves_figure, summary_html

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b5a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}
.runs{display:grid;gap:16px;padding:16px}
article{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;min-width:0}
section{border-top:1px solid #eee;padding:6px 0 12px}section:first-of-type{border-top:none}
h2{font-size:16px;margin:10px 0 6px}h3{font-size:13px;margin:10px 0 4px}
svg{max-width:100%;height:auto}img.fig{max-width:100%}
table{border-collapse:collapse;margin:6px 0;font-size:12px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
th{background:#f3f3f3}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;font-size:12px;max-height:28em;overflow:auto}
.tokens{font-family:'DejaVu Sans Mono',monospace;font-size:12px;white-space:pre-wrap;line-height:1.6;margin:2px 0 8px}
.note{color:#666;font-size:12px}.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.ent{padding:1px 3px;border-radius:3px;margin:0 1px}
.gallery{display:flex;flex-wrap:wrap;gap:12px}.gallery figure{margin:0;width:150px;font-size:12px}
.gallery img{width:96px;height:96px;image-rendering:pixelated;border:1px solid #ccc}
"""

GRAD_STEPS = (0, 1, 2, 5, 10, 20, 50)


def _sizes(model, layer):
    kind = {"RNN_TANH": "tanh RNN", "RNN_RELU": "ReLU RNN"}.get(layer.mode, layer.mode)
    bi = "bidirectional " if layer.bidirectional else ""
    text = f"input {layer.input_size} → {layer.num_layers} × {bi}{kind} {layer.hidden_size}"
    head = model.modules.get("head")
    if head is not None:
        text += f" → output {head.params['weight'].shape[0]}"
    return text


def model_section(run, view, plt):
    model = run.model
    layer = view.layer(run)
    parts = [f"<p><b>{esc(type(model).__name__)}</b> for <code>{esc(run.task_name)}</code>; "
             f"architecture: {esc(SHAPES.get(view.shape_of(run), view.shape_of(run)))}. The unrolled copies "
             f"are fed a real held-out input; above each step is the model's most likely output there.</p>"]
    if layer is not None:
        fig = graph.network_figure(plt, layer.mode, view.unrolled(run), view.shape_of(run), _sizes(model, layer),
                                   bidirectional=layer.bidirectional)
        parts.append(Figure("model", fig, "the recurrent cell folded and unrolled"))
    else:
        parts.append('<p class="note">This model has no recurrent layer (the order-blind baseline).</p>')
    rows, total = graph.parameter_rows(model)
    config = run.config.get("config", {})
    parts.append('<div class="row"><div><h3>configuration</h3>'
                 + table(["setting", "value"], [(k, v) for k, v in config.items()])
                 + f"</div><div><h3>parameters: {total:,}</h3>"
                 + table(["module", "parameter", "shape", "count"], rows) + "</div></div>")
    return Section("model", "The model", parts)


def training_section(run, plt):
    fig = curves_figure(plt, run.history)
    return Section("training", "Training", ['<div class="row"><div>', Figure("training", fig, "per-epoch metrics"),
                                             "</div><div>", summary_html(run.history, run.final), "</div></div>"])


def gradient_curve(run, view):
    """(steps back, mean ||dL/dh||, count) over the view's held-out gradient batch, or None."""
    layer = view.layer(run)
    batch = view.gradient_batch(run)
    if layer is None or batch is None:
        return None
    with watch(layer) as seen:
        batch.run()
    return average_norms(step_norms(layer, seen, batch.lengths))


def gradient_section(run, curve, plt):
    if curve is None:
        return Section("gradient-flow", "Gradient flow through time",
                       ['<p class="note">No recurrent layer: no gradient flows through time.</p>'])
    steps, mean, count = curve
    fig = flow_figure([(run.name, steps, mean, count)], plt)
    rows = [(int(k), float(mean[k]), float(mean[k] / mean[0]) if mean[0] > 0 else float("nan"), int(count[k]))
            for k in GRAD_STEPS if k < len(steps)]
    text = (f"<p>The error of the loss at the last step of {int(count[0])} held-out sequences, carried back "
            f"through time by BPTT: ||dL/dh<sub>n−k</sub>|| of the top recurrent layer, k steps before the loss "
            f"(averaged over the sequences at least k+1 long). A steep fall is a vanishing gradient.</p>")
    return Section("gradient-flow", "Gradient flow through time",
                   [text, '<div class="row"><div>', Figure("gradient-flow", fig, "gradient norm by steps back"),
                    "</div><div>", table(["k", "||dL/dh||", "relative to k=0", "sequences"], rows), "</div></div>"])


def units_section(run, view, plt):
    layer = view.layer(run)
    batch = view.activation_batch(run) if layer is not None else None
    if batch is None:
        return Section("hidden-units", "Hidden units", ['<p class="note">No recurrent layer to look into.</p>'])
    with watch(layer) as seen:
        batch.run()
    y = seen.y.astype(np.float64)
    feature_fn = getattr(view, "features", activations.text_features)
    lengths = seen.lengths if batch.lengths is None else batch.lengths
    H, feats = activations.stack_steps(y, lengths, batch.tokens, feature_fn, batch.features)
    picks = activations.top_units(H, feats)
    joiner = "" if all(len(t) <= 1 for toks in batch.tokens for t in toks) else " "
    parts = [f"<p>The top layer's {y.shape[2]} units over {H.shape[0]:,} held-out steps; for each simple feature "
             f"of the input the most correlated unit (Pearson r over all steps), strongest first. Red is positive, "
             f"blue negative.</p>"]
    if picks:
        parts.append(table(["unit", "feature", "r"], [(u, f, round(r, 3)) for u, f, r in picks]))
        parts.append(Figure("hidden-units", activations.units_figure(plt, y, batch.tokens, picks),
                            "activations of the units found"))
        parts.append(activations.units_html(y, lengths, batch.tokens, picks, joiner))
    return Section("hidden-units", "Hidden units", parts)


def run_sections(run, plt):
    view = view_for(run.task_name)
    curve = gradient_curve(run, view)
    sections = [model_section(run, view, plt), training_section(run, plt), gradient_section(run, curve, plt),
                units_section(run, view, plt)]
    sections.extend(view.sections(run, plt))
    return sections, curve


def render(runs, plt):
    """(HTML page, [(run name, Figure)]) for the RunData objects ``runs``."""
    figures, articles, curves = [], [], []
    for i, run in enumerate(runs):
        sections, curve = run_sections(run, plt)
        if curve is not None:
            curves.append((run.name, *curve))
        articles.append(_article(i, run, sections, figures))
    top = ""
    if len(runs) > 1:
        if curves:
            fig = flow_figure(curves, plt)
            figures.append(("all", Figure("gradient-flow-overlay", fig)))
            top = (f'<article style="grid-column:1/-1"><section data-section="gradient-flow-overlay"><h2>Gradient flow: the runs '
                   f'overlaid</h2>{_inline(fig)}</section></article>')
    names = ", ".join(esc(r.name) for r in runs)
    html = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>rnnlab report: {names}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<header><h1>rnnlab report</h1><p>{names}</p></header>'
            f'<main class="runs" style="grid-template-columns:repeat({len(runs)},minmax(0,1fr))">'
            f'{top}{"".join(articles)}</main></body></html>')
    return html, figures


def _inline(fig):
    return f'<div class="figure">{svg(fig)}</div>'


def _article(i, run, sections, figures):
    out = [f'<article data-run="{esc(run.name)}"><h2>{esc(run.name)} — {esc(run.task_name)}</h2>'
           f'<p class="note">{esc(run.dir)}</p>']
    for s in sections:
        body = []
        for part in s.parts:
            if isinstance(part, Figure):
                figures.append((run.name, part))
                body.append(_inline(part.figure))
            else:
                body.append(part)
        out.append(f'<section id="r{i}-{s.id}" data-section="{s.id}"><h2>{esc(s.title)}</h2>{"".join(body)}</section>')
    out.append("</article>")
    return "".join(out)
