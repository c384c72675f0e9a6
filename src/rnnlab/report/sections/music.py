"""music: piano rolls (or melodies) over time; a piano roll of a newly generated chorale."""
import numpy as np

from . import Batch, Section, Step, View

SEQUENCES, MAX_FRAMES, GENERATED = 16, 64, 64
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def note_name(midi):
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


class MusicView(View):
    shape = "one-to-many"

    def _pianoroll(self, run):
        return run.config.get("mode", "pianoroll") == "pianoroll"

    def _frame_label(self, run, frame):
        on = np.flatnonzero(frame > 0.5)
        return note_name(int(on[-1]) + run.config["lowest"]) if len(on) else "rest"

    def gradient_batch(self, run):
        from ...tasks.music import pad_melodies, pad_rolls

        items = [x[:MAX_FRAMES] for x in run.task.splits["test"][:SEQUENCES]]
        if self._pianoroll(run):
            frames, lengths = pad_rolls(items)
            tokens = [[self._frame_label(run, f) for f in r] for r in items]
            soprano = [r.argmax(axis=1) * (r.max(axis=1) > 0) + run.config["lowest"] for r in items]
            count = [r.sum(axis=1) for r in items]
            return Batch(lambda: run.model.loss_and_grads(frames, lengths, training=False), tokens,
                         {"notes sounding": count, "highest pitch": soprano})
        x, y = pad_melodies(items)
        itos = run.config["vocab"]
        tokens = [[str(itos[t]) for t in s[:-1]] for s in items]
        return Batch(lambda: run.model.loss_and_grads(x, y, training=False), tokens, lengths=[len(t) for t in tokens])

    def features(self, tokens):
        from ..activations import text_features

        return {"position in piece": text_features(tokens)["position in sequence"]}

    def unrolled(self, run):
        batch = self.gradient_batch(run)
        return [Step(t, "next" if self._pianoroll(run) else None) for t in batch.tokens[0][:6]]

    def sections(self, run, plt):
        from ..figures import Figure

        if self._pianoroll(run):
            roll = run.model.sample(GENERATED, temperature=1.0, seed=0)
            lowest = run.config["lowest"]
        else:
            from ...tasks.music import MelodyVocab

            vocab = MelodyVocab.from_itos(run.config["vocab"])
            ids = run.model.sample([0], GENERATED * 4, temperature=1.0, seed=0)
            labels = vocab.decode(ids)
            pitches = [p for p in labels if isinstance(p, int)] or [60]
            lowest = min(pitches)
            roll = np.zeros((len(labels), max(pitches) - lowest + 1))
            current = None
            for t, lab in enumerate(labels):
                current = lab if isinstance(lab, int) else (None if lab == "rest" else current)
                if current is not None:
                    roll[t, current - lowest] = 1
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                  extent=(0, len(roll), lowest - 0.5, lowest + roll.shape[1] - 0.5))
        ax.set_xlabel("quarter notes" if self._pianoroll(run) else "sixteenth notes")
        ax.set_ylabel("MIDI pitch")
        fig.tight_layout()
        return [Section("piano-roll", "A generated chorale",
                        [f"<p>{len(roll)} steps sampled at temperature 1.0 (seed 0), each step fed back as the next "
                         f"input.</p>", Figure("piano-roll", fig, "piano roll of a generated chorale")])]


VIEW = MusicView()
