"""caption: one-to-many from an image; test images with their generated captions."""
import io

import numpy as np

from . import Batch, Section, Step, View, esc

SEQUENCES, SHOWN = 16, 12


class CaptionView(View):
    shape = "one-to-many"

    def gradient_batch(self, run):
        from ...tasks.caption import teacher_forcing

        t = run.task
        idx = t.splits["test"][:SEQUENCES]
        tgt_in, tgt_out = teacher_forcing([t.ids[i] for i in idx], t.vocab)
        feats = t.features[idx]
        tokens = [[t.vocab.itos[k] for k in [t.vocab.bos_id] + t.ids[i]] for i in idx]
        return Batch(lambda: run.model.loss_and_grads(feats, tgt_in, tgt_out, training=False), tokens,
                     lengths=[len(x) for x in tokens])

    def unrolled(self, run):
        t = run.task
        i = t.splits["test"][0]
        tgt_in = [t.vocab.bos_id] + t.ids[i][:3]
        logits, _ = run.model.forward(t.features[i:i + 1], np.array([tgt_in]))
        ins = ["image"] + [t.vocab.itos[k] for k in tgt_in[1:]]
        return [Step(a, t.vocab.itos[int(b)]) for a, b in zip(ins, logits[0].argmax(axis=1))]

    def sections(self, run, plt):
        from ...tasks.caption import decode
        from ..figures import png_data_uri

        t = run.task
        idx = t.splits["test"][:SHOWN]
        caps = decode(run.model, t.vocab, t.features[idx], 1, t.extra["max_len"], t.extra["length_penalty"])
        size = t.extra["image_size"]
        items = []
        for i, cap in zip(idx, caps):
            img = _png(t.features[i].reshape(size, size, 3))
            items.append(f'<figure><img src="{png_data_uri(img)}" alt="test image"><figcaption><b>{esc(cap)}</b><br>'
                         f'<span class="note">true: {esc(t.captions[i])}</span></figcaption></figure>')
        return [Section("captions", "Test images and their generated captions (greedy)",
                        [f'<div class="gallery">{"".join(items)}</div>'])]


def _png(rgb):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


VIEW = CaptionView()
