"""tag: many-to-many of equal length; test sentences with their entities coloured, per-type P/R/F1."""
from ...models.tagger import make_batch
from . import Batch, Section, Step, View, esc, table

SEQUENCES, SHOWN = 16, 10
PALETTE = ["#fbb4ae", "#b3cde3", "#ccebc5", "#decbe4", "#fed9a6", "#ffffcc", "#e5d8bd", "#fddaec", "#f2f2f2"]


class TagView(View):
    shape = "many-to-many"

    def gradient_batch(self, run):
        sents = run.task.held_out["test"][:SEQUENCES]
        enc = run.task.enc
        ids, tags, chars = enc.encode([t for t, _ in sents], [g for _, g in sents])
        batch = make_batch(ids, tags, chars)
        return Batch(lambda: run.model.loss_and_grads(batch, training=False), [list(t) for t, _ in sents])

    def unrolled(self, run):
        from ...tasks.tag import tag_all

        tokens = list(run.task.held_out["test"][0][0][:6])
        pred = tag_all(run.model, run.task.enc, [tokens])[0]
        return [Step(t, p) for t, p in zip(tokens, pred)]

    def sections(self, run, plt):
        from ...tasks.tag import bio_entities, tag_all

        enc = run.task.enc
        test = run.task.held_out["test"]
        pred = tag_all(run.model, enc, [t for t, _ in test])
        gold = [list(g) for _, g in test]
        joiner = "" if enc.char_level else " "
        if enc.bio:
            kinds = sorted({lab[2:] for lab in enc.labels if lab != "O"})
            colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
            legend = " ".join(f'<span class="ent" style="background:{colour[k]}">{esc(k)}</span>' for k in kinds)
            rows = []
            for (tokens, _), tags in list(zip(test, pred))[:SHOWN]:
                rows.append(f"<p>{_coloured(tokens, bio_entities(tags), colour, joiner)}</p>")
            from seqeval.metrics import classification_report

            rep = classification_report(gold, pred, output_dict=True, zero_division=0)
            prf = [(k, float(v["precision"]), float(v["recall"]), float(v["f1-score"]), int(v["support"]))
                   for k, v in rep.items()]
            return [Section("tagged", "Tagged test sentences (predicted entities)", [f"<p>{legend}</p>", *rows]),
                    Section("per-type", "Per-type precision, recall, F1 (seqeval, test split)",
                            [table(["type", "precision", "recall", "F1", "support"], prf)])]
        rows = []
        for (tokens, _), tags in list(zip(test, pred))[:SHOWN]:
            rows.append("<p>" + joiner.join(f"{esc(t)}<sub>{esc(g)}</sub>" for t, g in zip(tokens, tags)) + "</p>")
        counts = {}
        for gs, ps in zip(gold, pred):
            for g, p in zip(gs, ps):
                c = counts.setdefault(g, [0, 0])
                c[0] += g == p
                c[1] += 1
        acc = [(g, c[0] / c[1], c[1]) for g, c in sorted(counts.items())]
        return [Section("tagged", "Tagged test sentences", rows),
                Section("per-type", "Accuracy per tag (test split)", [table(["tag", "accuracy", "tokens"], acc)])]


def _coloured(tokens, entities, colour, joiner):
    out, k = [], 0
    for kind, a, b in entities:
        out.extend(esc(t) for t in tokens[k:a])
        text = joiner.join(esc(t) for t in tokens[a:b])
        out.append(f'<span class="ent" style="background:{colour.get(kind, "#eee")}" title="{esc(kind)}">{text}'
                   f"<sub>{esc(kind)}</sub></span>")
        k = b
    out.extend(esc(t) for t in tokens[k:])
    return joiner.join(out)


VIEW = TagView()
