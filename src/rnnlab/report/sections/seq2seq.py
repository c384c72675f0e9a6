"""seq2seq: encoder-decoder; attention heat-maps of test examples and the beam's alternatives."""
from types import SimpleNamespace

import numpy as np

from ...data.splits import pad_batch
from . import Batch, Section, Step, View, esc, table

SEQUENCES, EXAMPLES, BEAM = 16, 3, 4


class Seq2SeqView(View):
    shape = "encoder-decoder"
    layer_name = "decoder"          # the loss is on the decoder's steps

    def _pairs(self, run, n):
        codec = run.task.codec
        out = []
        for source, targets in run.task.groups["test"]:
            src, tgt = codec.src_ids(source), codec.tgt_ids(targets[0])
            if src and tgt:
                out.append((source, src, tgt))
            if len(out) == n:
                break
        return out

    def gradient_batch(self, run):
        from ...tasks.seq2seq import teacher_forcing

        codec = run.task.codec
        pairs = self._pairs(run, SEQUENCES)
        src, lengths = pad_batch([p[1] for p in pairs])
        tgt_in, tgt_out, _ = teacher_forcing([p[2] for p in pairs], codec.bos, codec.eos)
        itos = codec.tgt_vocab.itos
        tokens = [[itos[t] for t in [codec.bos] + p[2]] for p in pairs]
        return Batch(lambda: run.model.loss_and_grads(src, lengths, tgt_in, tgt_out, training=False), tokens,
                     lengths=[len(t) for t in tokens])

    def unrolled(self, run):
        codec = run.task.codec
        _, src, tgt = self._pairs(run, 1)[0]
        s_itos, t_itos = codec.src_vocab.itos, codec.tgt_vocab.itos
        dec_in = [codec.bos] + tgt[:2]
        logits, _, _ = run.model.forward(np.array([src]), np.array([len(src)]), np.array([dec_in]))
        steps = [Step(s_itos[t], None, "encoder") for t in src[:4]]
        steps += [Step(t_itos[a], t_itos[int(b)], "decoder") for a, b in zip(dec_in, logits[0].argmax(axis=1))]
        return steps

    def sections(self, run, plt):
        from ...models.beam import beam_search
        from ...tasks.seq2seq import detokenize, predict
        from ..figures import Figure

        codec = run.task.codec
        examples = self._pairs(run, EXAMPLES)
        parts = []
        if run.model.attention is not None:
            results = predict(run.config, run.model, [e[0] for e in examples],
                              SimpleNamespace(beam=1, show_attention=True))
            for k, r in enumerate(results):
                A = np.array(r["attention"])
                fig, ax = plt.subplots(figsize=(1.2 + 0.32 * A.shape[1], 1.0 + 0.28 * A.shape[0]))
                ax.imshow(A, cmap="Greys", vmin=0, vmax=1, aspect="auto")
                ax.set_xticks(range(A.shape[1]), r["source_tokens"], rotation=90, fontsize=7)
                ax.set_yticks(range(A.shape[0]), (r["target_tokens"] + [""] * A.shape[0])[:A.shape[0]], fontsize=7)
                ax.set_xlabel("source")
                ax.set_ylabel("output")
                fig.tight_layout()
                parts += [f"<h3>{esc(r['input'])} → {esc(r['output'])}</h3>", Figure(f"attention-{k + 1}", fig)]
        else:
            parts.append('<p class="note">This model has no attention.</p>')
        rows = []
        alpha = float(run.config.get("length_penalty", 0.0))
        for source, src, _ in examples:
            hyps = beam_search(run.model, np.array(src), bos=codec.bos, eos=codec.eos, beam=BEAM,
                               max_len=codec.max_len, length_penalty=alpha, n_best=BEAM)
            for rank, h in enumerate(hyps, 1):
                tokens = h.tokens[:-1] if h.finished else h.tokens
                rows.append((source if rank == 1 else "", rank, detokenize(codec.output_tokens(tokens),
                                                                           codec.corpus.target), float(h.score)))
        refs = "".join(f"<li>{esc(s)} → {esc(' | '.join(t))}</li>" for s, t in run.task.groups["test"][:EXAMPLES])
        return [Section("attention", "Attention (greedy decoding of test examples)", parts),
                Section("beam", f"Beam search alternatives (beam {BEAM})",
                        [table(["input", "rank", "output", "score"], rows), f"<p>References:</p><ul>{refs}</ul>"])]


VIEW = Seq2SeqView()
