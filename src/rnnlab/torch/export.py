"""``rnnlab export DIR --format torch|onnx --out FILE``: a trained run as a PyTorch twin file or ONNX graphs.

torch: the twin's state_dict, model class and config (and the run's vocabulary and labels) in
one safetensors file; ``rnnlab.torch.load(FILE)`` rebuilds the twin.

onnx: torch.onnx (the TorchScript exporter: torch.export cannot trace pack_padded_sequence)
with dynamic batch and time axes. What is exported is what a server calls:

    LanguageModel, PianoRollModel   the step: ids (B, T) | frames (B, T, P) and state in, logits and state out
                                    (T = 1 per generated token; the prime in one call)
    SequenceClassifier, BagOfVectors  ids (B, T), lengths (B,) -> logits (B, C)
    SequenceTagger                  ids, lengths [, chars, char_lengths] -> tag scores (B, T, K)
                                    (a CRF's transitions are in the torch export; Viterbi is the caller's)
    Seq2Seq                         FILE: the decoder step; FILE.encoder.onnx: src, src_lengths -> memory, state
    Captioner                       FILE: the decoder step; FILE.start.onnx: features -> state [, input feed]
    SpeechRecognizer                frames (B, T, F), lengths (B,) -> per-frame log-probs (B, T', C), output lengths
                                    (CTC decoding, greedy or beam, is the caller's)
    DocVectorClassifier             vectors (B, D) -> logits (B, C): document vectors already inferred with gensim
                                    from the run's Doc2Vec arrays (they are in the torch export, not in the graph)

Every graph is run with onnxruntime on a random variable-length batch and compared with the
NumPy model before the file is moved into place; the largest difference is reported, and a
graph further than REJECT from the model is an error (nothing is written).
"""
import json
import os
import tempfile
import warnings

import numpy as np
import torch

from ..tasks.base import load_run
from ..train.checkpoint import CheckpointError
from .convert import save, to_torch

FORMATS = ("torch", "onnx")
REJECT = 1e-3           # an ONNX graph further than this from the NumPy model is not written (float32: ~1e-7)


def export(run_dir, fmt, out):
    """Write run_dir's model to ``out`` (and, for encoder-decoders, a second ONNX file); returns a summary."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {fmt!r}")
    run, model = load_run(run_dir)
    return export_model(model, fmt, out, run)


def export_model(model, fmt, out, run=None):
    """Write ``model`` (an rnnlab model) to ``out`` in ``fmt``; ``run`` (a run's config.json) goes into torch files."""
    if os.path.isdir(out):
        raise ValueError(f"--out {out} is a directory; give a file name")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ValueError(f"--out {out}: the folder {os.path.dirname(os.path.abspath(out))} does not exist")
    twin = to_torch(model).eval()
    name = type(model).__name__
    if fmt == "torch":
        save(twin, out, extra={"run": json.dumps(run or {}, sort_keys=True)})
        return {"format": "torch", "model": name, "files": [out]}
    if name not in GRAPHS:
        raise ValueError(f"no ONNX export for {name}; known: {sorted(GRAPHS)}")
    graphs = GRAPHS[name](model, twin)
    paths = [out] + [f"{os.path.splitext(out)[0]}.{g.suffix}.onnx" for g in graphs[1:]]
    diffs, tmps = {}, []
    try:
        for g, path in zip(graphs, paths):
            tmp = _temp_beside(path)
            tmps.append(tmp)
            g.export(tmp)
            diff = diffs[os.path.basename(path)] = g.check(tmp, np.random.default_rng(0))
            if diff is not None and not diff <= REJECT:
                raise CheckpointError(f"{path}: the ONNX graph differs from the NumPy model by {diff:.3g} "
                                      f"(more than {REJECT:g}); nothing was written")
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"format": "onnx", "model": name, "files": paths, "max_abs_diff_vs_numpy": diffs}


def _temp_beside(path):
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise ValueError(f"--out {path}: the folder {d} does not exist")
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".onnx")
    os.close(fd)
    return tmp


class Graph:
    """One ONNX graph: a module, named inputs (one example each), outputs, dynamic axes, a NumPy reference.

    ``sample(rng)`` -> a dict of NumPy inputs (a fresh, variable-length batch);
    ``reference(inputs)`` -> the NumPy model's outputs, in ``outputs`` order.
    """

    def __init__(self, module, inputs, outputs, axes, sample, reference, suffix=None):
        self.module, self.inputs, self.outputs, self.axes = module, inputs, outputs, axes
        self.sample, self.reference, self.suffix = sample, reference, suffix

    def export(self, path):
        example = self.sample(np.random.default_rng(1))
        args = tuple(torch.from_numpy(np.ascontiguousarray(example[k])) for k in self.inputs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(self.module, args, path, input_names=list(self.inputs), output_names=list(self.outputs),
                              dynamic_axes=self.axes, dynamo=False)

    def check(self, path, rng):
        """Max |onnxruntime - NumPy| over every output on a new batch (None without onnxruntime)."""
        try:
            import onnxruntime
        except ImportError:
            return None
        inputs = self.sample(rng)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        got = session.run(None, {k: v for k, v in inputs.items() if k in names})
        want = self.reference(inputs)
        diff = 0.0
        for name, a, b in zip(self.outputs, got, want):
            if np.shape(a) != np.shape(b):
                raise CheckpointError(f"ONNX output {name} has shape {np.shape(a)}, the NumPy model's {np.shape(b)}")
            diff = max(diff, float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))))
        return diff


class _Call(torch.nn.Module):
    """A function of the twin as a module's forward (what torch.onnx traces)."""

    def __init__(self, twin, fn):
        super().__init__()
        self.twin, self.fn = twin, fn

    def forward(self, *args):
        return self.fn(self.twin, *args)


# ---------------------------------------------------------------------- what each model exports
def _ragged(rng, V, B, T, low=1):
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    ids = rng.integers(low, V, (B, T))
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids.astype(np.int64), lengths.astype(np.int64)


def _state_names(model_rnn):
    return ["h", "c"] if model_rnn.mode == "LSTM" else ["h"]


def _pack(state):
    return state if isinstance(state, tuple) else (state,)


def _unpack(parts):
    return tuple(parts) if len(parts) == 2 else parts[0]


def _stateful(model, twin, x_name, sample_x):
    """LanguageModel / PianoRollModel: x and state in, logits and state out."""
    names = _state_names(model.rnn)
    L, H = model.rnn.num_layers, model.rnn.hidden_size

    def fn(tw, x, *state):
        logits, new = tw(x, _unpack(state))
        return (logits,) + _pack(new)

    def sample(rng):
        out = {x_name: sample_x(rng)}
        B = out[x_name].shape[0]
        for n in names:
            out[n + "0"] = (0.5 * rng.standard_normal((L, B, H))).astype(np.float32)
        return out

    def reference(inp):
        logits, state, _ = model.forward(inp[x_name], _unpack([inp[n + "0"] for n in names]))
        return [logits] + list(_pack(state))

    x_axes = {0: "batch", 1: "time"}
    axes = {x_name: x_axes, "logits": x_axes, **{n + "0": {1: "batch"} for n in names},
            **{n: {1: "batch"} for n in names}}
    return [Graph(_Call(twin, fn), [x_name] + [n + "0" for n in names], ["logits"] + names, axes, sample, reference)]


def _language_model(model, twin):
    V = model.config.vocab_size
    return _stateful(model, twin, "ids", lambda rng: rng.integers(0, V, (3, 7)).astype(np.int64))


def _piano_roll(model, twin):
    P = model.config.pitches
    return _stateful(model, twin, "frames", lambda rng: (rng.random((3, 7, P)) < 0.2).astype(np.float32))


def _classifier(model, twin):
    V = model.config.vocab_size

    def sample(rng):
        ids, lengths = _ragged(rng, V, 4, 9)
        return {"ids": ids, "lengths": lengths}

    return [Graph(_Call(twin, lambda tw, ids, lengths: tw(ids, lengths)), ["ids", "lengths"], ["logits"],
                  {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}},
                  sample, lambda inp: [model.forward(inp["ids"], inp["lengths"])[0]])]


def _tagger(model, twin):
    c = model.config
    inputs = ["ids", "lengths"] + (["chars", "char_lengths"] if c.char_embed else [])

    def sample(rng):
        ids, lengths = _ragged(rng, c.vocab_size, 4, 8)
        out = {"ids": ids, "lengths": lengths}
        if c.char_embed:
            B, T, W = 4, 8, 6
            cl = rng.integers(1, W + 1, (B, T)) * (np.arange(T)[None, :] < lengths[:, None])
            chars = rng.integers(1, c.char_vocab_size, (B, T, W)) * (np.arange(W)[None, None, :] < cl[:, :, None])
            out.update(chars=chars.astype(np.int64), char_lengths=cl.astype(np.int64))
        return out

    axes = {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "scores": {0: "batch", 1: "time"},
            "chars": {0: "batch", 1: "time", 2: "chars"}, "char_lengths": {0: "batch", 1: "time"}}
    return [Graph(_Call(twin, lambda tw, *a: tw(*a)), inputs, ["scores"], {k: axes[k] for k in inputs + ["scores"]},
                  sample, lambda inp: [model.forward(*[inp[k] for k in inputs])[0]])]


def _seq2seq(model, twin):
    c = model.config
    names = _state_names(model.decoder)
    attn = c.attention != "none"
    memory = ["keys", "mask"] if attn else []     # what the step reads; the encoder always returns both

    def src_sample(rng):
        src, lengths = _ragged(rng, c.src_vocab, 3, 6)
        return {"src": src, "src_lengths": lengths}

    def encode(tw, src, lengths):
        keys, mask, state = tw.encode(src, lengths)
        return _pack(state) + (keys, mask)

    def encode_ref(inp):
        (keys, mask), state = model.encode(inp["src"], inp["src_lengths"])
        return list(_pack(state)) + [keys, mask]

    def step(tw, tokens, *rest):
        state, mem = _unpack(rest[:len(names)]), rest[len(names):]
        keys, mask = (mem[0], mem[1]) if attn else (None, None)
        logits, new, weights = tw.step(tokens, state, keys, mask)
        return (logits,) + _pack(new) + ((weights,) if attn else ())

    def step_sample(rng):
        (keys, mask), state = model.encode(**src_sample(rng))
        out = {"tokens": rng.integers(0, c.tgt_vocab, keys.shape[0]).astype(np.int64)}
        out.update({n: s for n, s in zip(names, _pack(state))})
        if attn:
            out.update(keys=keys, mask=mask)
        return out

    def step_ref(inp):
        state = _unpack([inp[n] for n in names])
        d, _ = model.tgt_embedding.forward(inp["tokens"][:, None])              # (B, 1, E)
        h, new, _ = model.decoder.forward(d, state)
        logits, weights, _ = model._top(h, inp.get("keys"), inp.get("mask"), False, None)
        return [logits[:, 0]] + list(_pack(new)) + ([weights[:, 0]] if attn else [])

    b = {1: "batch"}
    enc_axes = {"src": {0: "batch", 1: "time"}, "src_lengths": {0: "batch"}, **{n: b for n in names},
                "keys": {0: "batch", 1: "time"}, "mask": {0: "batch", 1: "time"}}
    step_axes = {"tokens": {0: "batch"}, "logits": {0: "batch"}, "weights": {0: "batch", 1: "time"},
                 **{n: b for n in names}, **{n + "_next": b for n in names},
                 "keys": {0: "batch", 1: "time"}, "mask": {0: "batch", 1: "time"}}
    step_in = ["tokens"] + names + memory
    step_out = ["logits"] + [n + "_next" for n in names] + (["weights"] if attn else [])
    return [Graph(_Call(twin, step), step_in, step_out, {k: step_axes[k] for k in step_in + step_out},
                  step_sample, step_ref),
            Graph(_Call(twin, encode), ["src", "src_lengths"], names + ["keys", "mask"],
                  {k: enc_axes[k] for k in ["src", "src_lengths"] + names + ["keys", "mask"]}, src_sample, encode_ref,
                  suffix="encoder")]


def _captioner(model, twin):
    c = model.config
    names = _state_names(model.rnn)
    feed = ["u"] if c.init in ("input", "both") else []
    L, H = c.layers, c.hidden

    def start(tw, features):
        state, u = tw.start(features)
        if state is None:
            z = torch.zeros(L, features.shape[0], H, dtype=features.dtype)
            state = (z, z) if len(names) == 2 else z
        return _pack(state) + ((u,) if feed else ())

    def start_sample(rng):
        return {"features": rng.standard_normal((3, c.feature_dim)).astype(np.float32)}

    def start_ref(inp):
        state, u = model.start(inp["features"])
        return list(_pack(state)) + ([u] if feed else [])

    def step(tw, tokens, *rest):
        state, u = _unpack(rest[:len(names)]), (rest[len(names)] if feed else None)
        logits, new = tw.step(tokens, state, u)
        return (logits,) + _pack(new)

    def step_sample(rng):
        state, u = model.start(start_sample(rng)["features"])
        out = {"tokens": rng.integers(0, c.vocab_size, 3).astype(np.int64)}
        out.update({n: s for n, s in zip(names, _pack(state))})
        if feed:
            out["u"] = u
        return out

    def step_ref(inp):
        state = _unpack([inp[n] for n in names])
        e, _ = model.embedding.forward(inp["tokens"][:, None])
        x = e if not feed else np.concatenate([e, inp["u"][:, None, :]], axis=-1)
        h, new, _ = model.rnn.forward(x, state)
        return [model.head.forward(h[:, 0])[0]] + list(_pack(new))

    b = {1: "batch"}
    axes = {"features": {0: "batch"}, "tokens": {0: "batch"}, "logits": {0: "batch"}, "u": {0: "batch"},
            **{n: b for n in names}, **{n + "_next": b for n in names}}
    step_in, step_out = ["tokens"] + names + feed, ["logits"] + [n + "_next" for n in names]
    return [Graph(_Call(twin, step), step_in, step_out, {k: axes[k] for k in step_in + step_out}, step_sample,
                  step_ref),
            Graph(_Call(twin, start), ["features"], names + feed, {k: axes[k] for k in ["features"] + names + feed},
                  start_sample, start_ref, suffix="start")]


def _speech(model, twin):
    """frames (B, T, F), lengths (B,) -> per-frame log-probabilities (B, T', C), output lengths (B,)."""
    F = model.config.num_features

    def sample(rng):
        B, T = 4, int(rng.integers(9, 14))               # export and check see different T (odd and even)
        lengths = rng.integers(1, T + 1, B)
        lengths[0] = T
        return {"frames": rng.standard_normal((B, T, F)).astype(np.float32), "lengths": lengths.astype(np.int64)}

    axes = {"frames": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "log_probs": {0: "batch", 1: "steps"},
            "output_lengths": {0: "batch"}}
    return [Graph(_Call(twin, lambda tw, frames, lengths: tw.log_probs(frames, lengths)), ["frames", "lengths"],
                  ["log_probs", "output_lengths"], axes, sample,
                  lambda inp: list(model.log_probs(inp["frames"], inp["lengths"])))]


def _doc_vectors(model, twin):
    """vectors (B, D) document vectors -> logits (B, C)."""
    D = model.config.vector_size

    def sample(rng):
        return {"vectors": rng.standard_normal((int(rng.integers(2, 7)), D)).astype(np.float32)}

    return [Graph(_Call(twin, lambda tw, vectors: tw(vectors)), ["vectors"], ["logits"],
                  {"vectors": {0: "batch"}, "logits": {0: "batch"}}, sample,
                  lambda inp: [model.forward(inp["vectors"])[0]])]


GRAPHS = {"LanguageModel": _language_model, "PianoRollModel": _piano_roll, "SequenceClassifier": _classifier,
          "BagOfVectors": _classifier, "SequenceTagger": _tagger, "Seq2Seq": _seq2seq, "Captioner": _captioner,
          "SpeechRecognizer": _speech, "DocVectorClassifier": _doc_vectors}
