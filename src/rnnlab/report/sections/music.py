"""music: piano rolls (or melodies) over time; a piano roll of a newly generated chorale."""
import numpy as np

from . import Batch, Section, Step, View

SEQUENCES, MAX_FRAMES, GENERATED = 16, 64, 64
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def note_name(midi):
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


def sounding(labels):
    """Melody grid labels ("67", "hold", "rest") -> the MIDI pitch sounding at each step (0: silence)."""
    out, current = np.zeros(len(labels)), 0
    for t, lab in enumerate(labels):
        current = int(lab) if lab.isdigit() else (0 if lab != "hold" else current)
        out[t] = current
    return out


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
        f = {"position in piece": np.arange(len(tokens), dtype=float)}
        if any(t in ("hold", "rest") for t in tokens):                      # melody tokens
            pitch = sounding(tokens)
            f["note onset"] = np.array([t.isdigit() for t in tokens], dtype=float)
            f["pitch sounding"] = np.where(pitch > 0, pitch, pitch[pitch > 0].min(initial=60) - 1)
        return f

    def unrolled(self, run):
        first = run.task.splits["test"][0][:6]
        if self._pianoroll(run):                    # input frame t -> the model's frame t+1 (pitches with p > 0.5)
            logits, _, _ = run.model.forward(first[None])
            return [Step(self._frame_label(run, f), self._frame_label(run, (z > 0).astype(float)))
                    for f, z in zip(first, logits[0])]
        itos = run.config["vocab"]
        logits, _, _ = run.model.forward(np.array([first]))
        return [Step(str(itos[a]), str(itos[int(b)])) for a, b in zip(first, logits[0].argmax(axis=1))]

    def sections(self, run, plt):
        from ..figures import Figure

        if self._pianoroll(run):
            roll = run.model.sample(GENERATED, temperature=1.0, seed=0)
            lowest = run.config["lowest"]
        else:
            from ...tasks.music import MelodyVocab

            vocab = MelodyVocab.from_itos(run.config["vocab"])
            pitch = sounding(vocab.decode(run.model.sample([0], GENERATED * 4, temperature=1.0, seed=0)))
            on = pitch[pitch > 0].astype(int)
            lowest = int(on.min()) if len(on) else 60
            roll = np.zeros((len(pitch), (int(on.max()) if len(on) else 60) - lowest + 1))
            for t, p in enumerate(pitch.astype(int)):
                if p > 0:
                    roll[t, p - lowest] = 1
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
