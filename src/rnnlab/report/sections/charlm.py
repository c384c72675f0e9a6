"""charlm: a language model; the held-out text is the last 2% of the run's corpus."""
import numpy as np

from . import Batch, Section, Step, View, esc

SEQUENCES, STEPS = 16, 100          # gradient flow: 16 held-out stretches of 100 tokens
ACTIVATION_TOKENS = 1200            # hidden units: one stretch of held-out text
TEMPERATURES = (0.5, 1.0)


def shown(token):
    """A token as drawn in the unrolled network."""
    return {"\n": "↵", " ": "␣"}.get(token, token)


class CharLMView(View):
    shape = "one-to-many"

    def _tokens(self, run, ids):
        return [run.task.vocab.itos[i] for i in ids]

    def gradient_batch(self, run):
        ids = run.task.test_ids
        n = min(STEPS, len(ids) - 1)
        starts = np.linspace(0, len(ids) - n - 1, SEQUENCES).astype(int)
        x = np.stack([ids[s:s + n] for s in starts])
        y = np.stack([ids[s + 1:s + n + 1] for s in starts])
        return Batch(lambda: run.model.loss_and_grads(x, y, None, training=False),
                     [self._tokens(run, row) for row in x])

    def activation_batch(self, run):
        ids = run.task.test_ids
        lines = np.flatnonzero(ids == run.task.vocab.stoi.get("\n", -1))
        start = int(lines[0]) + 1 if len(lines) and lines[0] + 1 < len(ids) // 2 else 0
        x = ids[start:start + ACTIVATION_TOKENS][None, :]
        return Batch(lambda: run.model.forward(x), [self._tokens(run, x[0])])

    def unrolled(self, run):
        x = run.task.test_ids[:6][None, :]
        logits, _, _ = run.model.forward(x)
        pred = logits[0].argmax(axis=1)
        return [Step(shown(a), shown(b)) for a, b in zip(self._tokens(run, x[0]), self._tokens(run, pred))]

    def sections(self, run, plt):
        vocab, model = run.task.vocab, run.model
        prime = vocab.encode("\n") if "\n" in vocab.stoi else np.array([1])
        parts = [f"<p>Generated from a newline, 400 tokens at each temperature (seed 0; "
                 f"{'characters' if model.config.level == 'char' else 'words'} sampled one at a time from the "
                 f"softmax of logits / T).</p>"]
        for temp in TEMPERATURES:
            text = vocab.decode(model.sample(prime, 400, temperature=temp, seed=0))
            parts.append(f"<h3>temperature {temp}</h3><pre class=\"sample\">{esc(text)}</pre>")
        return [Section("samples", "Samples", parts)]


VIEW = CharLMView()
