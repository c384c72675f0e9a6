"""caption: one-to-many, an image -> its caption (by default an emoji -> its English name).

Data (``--data``):
    twemoji   the ~3,950 Twemoji 72x72 PNGs named by the ``emoji`` package (the default)
    DIR       your own: DIR/captions.tsv, one image a line, ``filename<TAB>caption`` (filename
              relative to DIR, any format Pillow reads; no header; each filename once)

Every image is composited on white, box-resized to ``image_size`` squared RGB and
flattened (24 x 24 x 3 = 1728 numbers in [0, 1]). With ``pca`` > 0 a PCA fitted on the
training split only (NumPy SVD) becomes the model's frozen first layer, so it
is saved with the weights. Captions are lowercased and cut into words: runs of letters
and digits, with inner hyphens and apostrophes kept ("medium-dark", "o'clock") and all
other punctuation dropped; the vocabulary is the training split's words. The images are
split 80/10/10 with ``--seed``.

Metrics on held-out images: corpus BLEU (sacrebleu, its default 13a tokenization) and
exact-match rate of greedy captions, the same for beam search with ``eval_beam`` (run
summaries and ``rnnlab evaluate`` only), and the teacher-forced token-level loss
(unseen words count as <unk>).
"""
import os
import re

import numpy as np

from ..data.errors import DataError
from ..data.splits import bucket_batches, pad_batch, split
from ..data.tokenize import Vocab
from ..data.twemoji import composite_to_array
from ..models.captioner import Captioner, CaptionerConfig
from .base import Task

_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
CAPTIONS_FILE = "captions.tsv"


def caption_tokens(text):
    """'Man Mage: medium-dark skin tone' -> ['man', 'mage', 'medium-dark', 'skin', 'tone']."""
    return _WORD.findall(text.lower())


# ---------------------------------------------------------------------- images
def load_image(path, size):
    """(size, size, 3) float32 in [0, 1] from any image file Pillow reads; DataError naming the file."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ValueError("caption images need Pillow; install it with: pip install Pillow") from None
    try:
        with open(path, "rb") as f:
            with Image.open(f) as im:
                return image_to_array(im, size)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise DataError(f"{path}: cannot read the image file ({e.strerror})") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (Pillow cannot identify its format)") from None
    except Exception as e:  # noqa: BLE001 - any decoding failure means not a usable image
        msg = " ".join(str(e).split())[:160] or type(e).__name__
        raise DataError(f"{path}: not a readable image ({msg})") from None


def image_to_array(im, size):
    """A PIL image of any mode -> (size, size, 3) float32: composited on white, box-resized, in [0, 1].

    For 8-bit images this is what ``rnnlab.data.twemoji.png_to_array`` does, so a Twemoji
    PNG given to ``predict`` gets the features the model was trained on.
    """
    from PIL import Image

    if im.mode in ("I", "F") or im.mode.startswith("I;"):
        a = np.asarray(im, dtype=np.float64)                # 16/32-bit grey: scale to 8 bits first
        a = a / 257.0 if im.mode != "F" else (a * 255.0 if a.size and a.max() <= 1.0 else a)
        im = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L")
    return composite_to_array(im, size)


def read_caption_folder(data, size):
    """(names, captions, images (N, size, size, 3)) from DIR/captions.tsv (or the .tsv path itself)."""
    if os.path.isfile(data):
        folder, tsv = os.path.dirname(data) or ".", data
    else:
        folder, tsv = data, os.path.join(data, CAPTIONS_FILE)
    if not os.path.exists(tsv):
        raise DataError(f"{tsv}: not found; --data takes 'twemoji' or a folder with {CAPTIONS_FILE} "
                        f"(lines 'filename<TAB>caption')")
    try:
        with open(tsv, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{tsv}: not UTF-8 text (byte {e.start})") from None
    names, captions, seen = [], [], {}
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{tsv}:{no}: expected 'filename<TAB>caption', got {line[:60]!r}")
        name, text = (part.strip() for part in line.split("\t", 1))
        if not name or not caption_tokens(text):
            raise DataError(f"{tsv}:{no}: needs a filename and a caption with at least one word")
        if name in seen:
            raise DataError(f"{tsv}:{no}: {name!r} is listed twice (first on line {seen[name]}); one caption per image")
        seen[name] = no
        names.append(name)
        captions.append(text)
    if not names:
        raise DataError(f"{tsv}: no captions")
    images = np.stack([load_image(os.path.join(folder, n), size) for n in names])
    return names, captions, images


def load_examples(data, size, limit=None):
    """(names, captions, features (N, 3 * size * size) float32) for 'twemoji' or a caption folder."""
    if data == "twemoji":
        from ..data.twemoji import load_twemoji_images

        names, captions, images = load_twemoji_images(size)
    elif isinstance(data, str) and os.path.exists(data):
        names, captions, images = read_caption_folder(data, size)
    else:
        raise DataError(f"{data}: no such dataset or folder; --data takes 'twemoji' or a folder with "
                        f"{CAPTIONS_FILE} (lines 'filename<TAB>caption')")
    if limit:
        names, captions, images = names[:limit], captions[:limit], images[:limit]
    return list(names), list(captions), np.asarray(images, dtype=np.float32).reshape(len(names), -1)


def fit_pca(x, k):
    """mean (F,), components (P, F), scale (P,) of the top P <= k principal directions of x (N, F).

    One scale for all components, sqrt(mean variance kept), so the projections average unit
    variance but keep their relative sizes: whitening each one would blow the faint
    components (jitter, noise) up to the size of the main ones, which overfits.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)     # s descending
    std = s / np.sqrt(max(len(x) - 1, 1))
    k = int(min(k, np.sum(std > 1e-6 * std[0]))) if std.size and std[0] > 0 else 0
    if k < 1:
        raise ValueError("the training images are all identical; nothing for PCA to keep (use --pca 0)")
    return mean, vt[:k], np.full(k, np.sqrt(np.mean(std[:k] ** 2)))


# ---------------------------------------------------------------------- the task
class CaptionTask(Task):
    name = "caption"
    monitor = ("bleu", "max")

    def __init__(self, names, captions, features, settings):
        s = settings
        train, val, test = split(list(range(len(names))), fractions=(0.8, 0.1, 0.1), seed=s["seed"])
        if not train or not val or not test:
            raise ValueError(f"caption needs at least 10 images to split into train/val/test, got {len(names)}")
        self.vocab = Vocab.build([caption_tokens(captions[i]) for i in train], bos_eos=True)
        F = features.shape[1]
        pca = None
        if s["pca"]:
            pca = fit_pca(features[train], min(int(s["pca"]), F))
        model = Captioner(CaptionerConfig(
            F, len(self.vocab), cell=s["cell"], embed=s["embed"], hidden=s["hidden"], layers=s["layers"],
            dropout=s["dropout"], init=s["init"], pca=0 if pca is None else len(pca[2]), pad_id=self.vocab.pad_id,
            bos_id=self.vocab.bos_id, eos_id=self.vocab.eos_id, seed=s["seed"]))
        if pca is not None:
            model.set_projection(*pca)
        super().__init__(model, {"vocab": self.vocab.to_json(), "image_size": s["image_size"],
                                 "max_len": s["max_len"], "length_penalty": s["length_penalty"],
                                 "data": str(s["data"]), "seed": s["seed"], "limit": s.get("limit"),
                                 "split_sizes": [len(train), len(val), len(test)]})
        self.batch, self.seed, self.eval_beam = s["batch"], s["seed"], s["eval_beam"]
        self.features = features
        self.captions = [" ".join(caption_tokens(c)) for c in captions]
        self.ids = [self.vocab.encode(caption_tokens(c)) for c in captions]
        self.splits = {"train": np.array(train), "val": np.array(val), "test": np.array(test)}

    def train_batches(self, epoch):
        idx = self.splits["train"]
        batches = bucket_batches([len(self.ids[i]) for i in idx], self.batch, seed=[self.seed, epoch], shuffle=True)
        return [idx[b] for b in batches]

    def train_step(self, idx, carry, rng):
        tgt_in, tgt_out = teacher_forcing([self.ids[i] for i in idx], self.vocab)
        loss, grads = self.model.loss_and_grads(self.features[idx], tgt_in, tgt_out, training=True, rng=rng)
        return loss, grads, None, int(np.sum(tgt_out != self.vocab.pad_id))

    def evaluate(self, split_name="val", beams=(1,)):
        idx = self.splits[split_name]
        return score(self.model, self.vocab, self.features[idx], [self.captions[i] for i in idx], beams,
                     self.extra["max_len"], self.extra["length_penalty"])

    def final_metrics(self):
        test = self.evaluate("test", beams=(1, self.eval_beam) if self.eval_beam > 1 else (1,))
        return {**{f"val_{k}": v for k, v in self.evaluate("val").items()}, **test}


def teacher_forcing(id_lists, vocab):
    """Word-id lists -> tgt_in (B, T) = <bos> w_1..w_n, tgt_out (B, T) = w_1..w_n <eos>, <pad>-padded."""
    tgt_in, _ = pad_batch([[vocab.bos_id] + ids for ids in id_lists], pad=vocab.pad_id)
    tgt_out, _ = pad_batch([ids + [vocab.eos_id] for ids in id_lists], pad=vocab.pad_id)
    return tgt_in, tgt_out


def decode(model, vocab, features, beam=1, max_len=20, length_penalty=0.0, batch=256):
    """Captions (strings) of features (N, F): greedy when beam == 1, else beam search."""
    out = []
    for s in range(0, len(features), batch):
        x = features[s:s + batch]
        ids = model.greedy(x, max_len) if beam == 1 else model.beam_search(x, beam, max_len, length_penalty)
        out.extend(" ".join(vocab.decode(i)) for i in ids)
    return out


def corpus_bleu(hyps, refs):
    """sacrebleu's corpus BLEU (0-100) of hypotheses against one reference each."""
    try:
        import sacrebleu
    except ImportError:
        raise ValueError("caption BLEU needs sacrebleu; install it with: pip install sacrebleu") from None
    return float(sacrebleu.corpus_bleu(hyps, [refs]).score)


def score(model, vocab, features, refs, beams=(1,), max_len=20, length_penalty=0.0, batch=256):
    """Metrics of the captions of features (N, F) against refs (normalized strings).

    {bleu, exact_match} of greedy captions (beam 1), {bleu_beamK, exact_match_beamK} for each
    other K in ``beams``, and the teacher-forced token-level loss and the number of examples.
    """
    out = {}
    for beam in beams:
        hyps = decode(model, vocab, features, beam, max_len, length_penalty, batch)
        sfx = "" if beam == 1 else f"_beam{beam}"
        out[f"bleu{sfx}"] = corpus_bleu(hyps, refs)
        out[f"exact_match{sfx}"] = float(np.mean([h == r for h, r in zip(hyps, refs)]))
    total, count = 0.0, 0
    ids = [vocab.encode(r.split()) for r in refs]
    for s in range(0, len(refs), batch):
        tgt_in, tgt_out = teacher_forcing(ids[s:s + batch], vocab)
        n = int(np.sum(tgt_out != vocab.pad_id))
        total += model.loss(features[s:s + batch], tgt_in, tgt_out) * n
        count += n
    return {**out, "loss": total / count, "examples": len(refs)}


# ---------------------------------------------------------------------- command line
DEFAULTS = {"data": "twemoji", "cell": "lstm", "embed": 64, "hidden": 256, "layers": 1, "dropout": 0.2,
            "batch": 32, "epochs": 40, "lr": 2e-3, "patience": 8, "init": "both", "pca": 128, "image_size": 24,
            "max_len": 20, "length_penalty": 0.0, "eval_beam": 4}


def build(s):
    s = {**DEFAULTS, **s}
    names, captions, features = load_examples(s["data"], s["image_size"], s.get("limit"))
    return CaptionTask(names, captions, features, s)


def predict(run, model, inputs, args=None):
    """{"image": path, "caption": ...} for each image file; ``args.beam`` > 1 uses beam search."""
    beam = getattr(args, "beam", None)
    beam = 1 if beam is None else int(beam)
    if beam < 1:
        raise ValueError(f"--beam must be >= 1, got {beam}")
    if not inputs:
        return []
    size = run["image_size"]
    x = np.stack([load_image(p, size).reshape(-1) for p in inputs])
    caps = decode(model, Vocab.from_json(run["vocab"]), x, beam, run["max_len"], run["length_penalty"])
    return [{"image": p, "caption": c} for p, c in zip(inputs, caps)]


def evaluate(run, model, settings, data=None):
    """Metrics on the run's held-out test images, or on every image of ``data``; greedy and beam."""
    s = {**DEFAULTS, **run, **settings}
    vocab = Vocab.from_json(run["vocab"])
    names, captions, features = load_examples(data or s["data"], run["image_size"], None if data else s.get("limit"))
    if data is None:
        idx = np.array(split(list(range(len(names))), fractions=(0.8, 0.1, 0.1), seed=s["seed"])[2])
        features, captions = features[idx], [captions[i] for i in idx]
    refs = [" ".join(caption_tokens(c)) for c in captions]
    beam = int(s["eval_beam"])
    return score(model, vocab, features, refs, (1, beam) if beam > 1 else (1,), run["max_len"], run["length_penalty"])
