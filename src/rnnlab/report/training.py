"""Training curves from metrics.jsonl (one line per epoch) and the run's numbers: time, steps, tokens/s."""
import numpy as np

from .sections import table

BOOKKEEPING = {"epoch", "step", "lr", "elapsed", "partial_epoch", "tokens", "examples", "sentences", "characters",
               "chorales", "frames", "references", "sources"}   # counts, not curves (also as val_*, test_*)


def _is_loss(key):
    return "loss" in key or "nll" in key


def curve_keys(history):
    """(loss keys, metric keys): every numeric per-epoch entry except bookkeeping."""
    keys = []
    for m in history:
        for k, v in m.items():
            if k not in keys and k.split("_", 1)[-1] not in BOOKKEEPING and k not in BOOKKEEPING and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.append(k)
    return [k for k in keys if _is_loss(k)], [k for k in keys if not _is_loss(k)]


def curves_figure(plt, history, title=""):
    losses, metrics = curve_keys(history)
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(8 if metrics else 4.4, 3.0), squeeze=False)
    for ax, keys, label in ((axes[0, 0], losses, "loss (nats)"), (axes[0, -1], metrics, "metric")):
        if not keys or (ax is axes[0, -1] and not metrics):
            continue
        for k in keys:
            pts = [(m["epoch"], m[k]) for m in history if isinstance(m.get(k), (int, float))]
            if pts:
                e, v = zip(*pts)
                ax.plot(e, v, marker="o", ms=3, label=k.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def summary_rows(history, final):
    """(what, value) rows: epochs, optimizer steps, training time, throughput, best epoch, final metrics."""
    last = history[-1]
    rows = [("epochs", len(history) if not last.get("partial_epoch") else f"{len(history) - 1} + a partial one"),
            ("optimizer steps", last.get("step")), ("training time (s)", last.get("elapsed"))]
    rate = throughput(history)
    rows.append(("tokens/s (training)", "not recorded by this run" if rate is None else f"{rate:,.0f}"))
    if final:
        rows.append(("best epoch", final.get("best_epoch")))
        for k, v in sorted(final.items()):
            if k not in ("best_epoch", "epochs_run", "train_seconds") and isinstance(v, (int, float)):
                rows.append((k.replace("_", " "), float(v) if isinstance(v, float) else v))
    else:
        rows.append(("final metrics", "none yet: the run has not finished"))
    return rows


def summary_html(history, final):
    return table(["", "value"], [(a, b if b is not None else "—") for a, b in summary_rows(history, final)])


def throughput(history):
    """Mean tokens per second over the epochs, or None when the run did not record tokens."""
    tokens = [m.get("tokens") for m in history]
    if not all(isinstance(t, (int, float)) for t in tokens) or not history[-1].get("elapsed"):
        return None
    return float(np.sum(tokens) / history[-1]["elapsed"])
