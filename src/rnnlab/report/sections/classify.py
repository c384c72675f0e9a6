"""classify: many-to-one; a confusion matrix of the test split and the model's most confident errors."""
import numpy as np

from ...data.splits import pad_batch
from . import Batch, Section, Step, View, table

SEQUENCES, MAX_TOKENS, ERRORS = 16, 60, 8


class ClassifyView(View):
    shape = "many-to-one"

    def shape_of(self, run):
        return "one-to-one" if run.config["model"] == "BagOfVectors" else self.shape

    def _test(self, run):
        ids, labels = run.task.splits["test"]
        return ids, labels

    def gradient_batch(self, run):
        ids, labels = self._test(run)
        pick = [i for i in range(len(ids)) if len(ids[i]) <= MAX_TOKENS][:SEQUENCES]
        x, lengths = pad_batch([ids[i] for i in pick])
        itos = run.task.vocab.itos
        return Batch(lambda: run.model.loss_and_grads(x, lengths, labels[pick], training=False),
                     [[itos[t] for t in ids[i]] for i in pick])

    def unrolled(self, run):
        from ...tasks.classify import predict_proba

        ids, _ = self._test(run)
        first = ids[0][:6]
        label = run.task.labels[int(predict_proba(run.model, [first]).argmax())]
        itos = run.task.vocab.itos
        return [Step(itos[t], label if k == len(first) - 1 else None) for k, t in enumerate(first)]

    def sections(self, run, plt):
        from ...tasks.classify import predict_proba
        from ..figures import Figure

        ids, labels = self._test(run)
        names = run.task.labels
        probs = predict_proba(run.model, ids)
        pred = probs.argmax(axis=1)
        C = len(names)
        cm = np.zeros((C, C), dtype=np.int64)
        np.add.at(cm, (labels, pred), 1)
        fig, ax = plt.subplots(figsize=(1.2 + 0.6 * C, 1.0 + 0.55 * C))
        ax.imshow(cm, cmap="Blues")
        for i in range(C):
            for j in range(C):
                ax.text(j, i, cm[i, j], ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks(range(C), names, rotation=45, ha="right")
        ax.set_yticks(range(C), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        fig.tight_layout()
        wrong = np.flatnonzero(pred != labels)
        wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:ERRORS]
        itos = run.task.vocab.itos
        rows = [(" ".join(itos[t] for t in ids[i]), names[labels[i]], names[pred[i]], float(probs[i, pred[i]]))
                for i in wrong]
        acc = float(np.mean(pred == labels))
        return [Section("confusion", "Confusion matrix (test split)",
                        [f"<p>{len(labels)} held-out examples, accuracy {acc:.1%}.</p>",
                         Figure("confusion", fig, "confusion matrix")]),
                Section("errors", "Most confident errors",
                        [table(["text", "true", "predicted", "confidence"], rows) if rows
                         else "<p>No errors on the test split.</p>"])]


VIEW = ClassifyView()
