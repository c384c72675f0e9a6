"""speech: frames in, a label (or the blank) per output frame; held-out transcripts and the CTC output.

The recurrent layers walk the output frames (``--subsample`` K input frames stacked per
step), in both directions for a bidirectional model. Each step's token in the report is
the model's most likely label there (``·`` for the blank), so the hidden units are shown
against where the model emits; their features are read off the input frames.
"""
import numpy as np

from . import Batch, Section, Step, View, esc, table

SEQUENCES, SHOWN, HEATMAPS = 16, 8, 2
BLANK_SHOWN = "·"


class SpeechView(View):
    shape = "many-to-many"

    def _test(self, run, n):
        u = run.task.splits["test"]
        return u.frames[:n], u.texts[:n], u.where[:n], run.task.ids["test"][:n]

    def _step_labels(self, run, frames):
        """Per utterance, the most likely label of each output frame (BLANK_SHOWN for the blank)."""
        from ...tasks.speech import pad_frames

        logp, lengths = run.model.log_probs(*pad_frames(frames))
        labels, blank = run.config["labels"], run.model.config.blank
        return [[BLANK_SHOWN if k == blank else labels[k] for k in lp[:n].argmax(axis=1)]
                for lp, n in zip(logp, lengths)]

    def gradient_batch(self, run):
        from ...tasks.speech import pad_frames

        frames, _, _, ids = self._test(run, SEQUENCES)
        x, lengths = pad_frames(frames)
        K = run.model.config.subsample
        norm = [(f - run.model.params["norm.mean"]) / run.model.params["norm.std"] for f in frames]
        steps = [-(-len(f) // K) for f in frames]
        energy = [[float(z[t * K:(t + 1) * K, 0].mean()) for t in range(n)] for z, n in zip(norm, steps)]
        change = [[float(np.linalg.norm(z[min(t * K + K, len(z) - 1)] - z[t * K])) for t in range(n)]
                  for z, n in zip(norm, steps)]
        return Batch(lambda: run.model.loss_and_grads(x, lengths, ids, training=False),
                     self._step_labels(run, frames),
                     {"first coefficient (energy)": energy, "change to the next step": change})

    def features(self, tokens):
        n = len(tokens)
        emitting = np.array([t != BLANK_SHOWN for t in tokens], dtype=float)
        return {"position in utterance": np.arange(n, dtype=float), "steps to the end": np.arange(n)[::-1] * 1.0,
                "label emitted (not blank)": emitting}

    def unrolled(self, run):
        frames, _, _, _ = self._test(run, 1)
        K = run.model.config.subsample
        out = self._step_labels(run, frames)[0][:6]
        blank = run.config["labels"][run.model.config.blank]
        return [Step(f"f{t * K + 1}" if K == 1 else f"f{t * K + 1}–{t * K + K}", blank if y == BLANK_SHOWN else y)
                for t, y in enumerate(out)]

    def sections(self, run, plt):
        from ...tasks.speech import error_rates, transcribe
        from ..figures import Figure

        beam = max(2, int(run.config.get("eval_beam") or run.settings.get("eval_beam") or 4))
        frames, texts, where, _ = self._test(run, None)       # the whole test split, as training scored it
        level = run.config["level"]
        refs = [" ".join(t.split()) if level == "word" else t for t in texts]
        greedy = [n[0][0] for n in transcribe(run.model, run.config, frames, 1)]
        beamed = [n[0][0] for n in transcribe(run.model, run.config, frames, beam)]
        rates = [("greedy", *_rates(error_rates(refs, greedy))), (f"beam {beam}", *_rates(error_rates(refs, beamed)))]
        rows = [(w, r, g, b, "✓" if g == r else "✗") for w, r, g, b in
                list(zip(where, refs, greedy, beamed))[:SHOWN]]
        lexicon = run.config.get("lexicon")
        note = (f"<p>The first {min(SHOWN, len(refs))} of {len(refs)} held-out test utterances with their reference, "
                f"the greedy transcript (the most likely label of each output frame, repeats merged, blanks dropped) "
                f"and prefix beam search (beam {beam}{', restricted to the lexicon' if lexicon else ''}). WER and CER "
                f"(jiwer) over all {len(refs)}.</p>")
        transcripts = Section("transcripts", "Held-out utterances: reference, greedy and beam transcripts", [
            note, table(["decoding", "WER", "CER", "exact"], rates),
            table(["utterance", "reference", "greedy", f"beam {beam}", "greedy exact"], rows, cls="text")])
        parts = ['<p>The label posteriors of each output frame (softmax of the model\'s outputs), the blank on top: '
                 'CTC lets the model say "nothing new here" with the blank and emit each label on a few frames.</p>']
        for k, (f, r, g) in enumerate(list(zip(frames, refs, greedy))[:HEATMAPS]):
            parts += [f"<h3>{esc(where[k])}: reference “{esc(r)}”, greedy “{esc(g)}”</h3>",
                      Figure(f"ctc-output-{k + 1}", self._heatmap(run, f, plt), "label posteriors over frames")]
        return [transcripts, Section("ctc-output", "CTC output: label posteriors over frames", parts)]

    def _heatmap(self, run, frames, plt):
        from ...tasks.speech import pad_frames

        logp, lengths = run.model.log_probs(*pad_frames([frames]))
        P = np.exp(logp[0, :lengths[0]]).T                                   # (C, T')
        labels = ["blank" if i == run.model.config.blank else repr(s)[1:-1] if s == " " else s
                  for i, s in enumerate(run.config["labels"])]
        fig, ax = plt.subplots(figsize=(min(12, 2 + 0.12 * P.shape[1]), 1 + 0.2 * P.shape[0]))
        im = ax.imshow(P, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(labels)), ["␣" if s == " " else s for s in labels], fontsize=7)
        K = run.model.config.subsample
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("output frame" + (f" ({K} input frames each)" if K > 1 else " (10 ms)"))
        fig.colorbar(im, ax=ax, fraction=0.02, label="p")
        fig.tight_layout()
        return fig


def _rates(m):
    return float(m["wer"]), float(m["cer"]), float(m["accuracy"])


VIEW = SpeechView()
