"""The ``rnnlab`` command: train, generate, predict, evaluate, data.

Every user error (bad file, bad flag, corrupt checkpoint) ends in one line on
stderr, ``rnnlab: error: ...``, and exit code 2 — never a traceback.
"""
import argparse
import json
import os
import sys

from . import __version__


def build_parser():
    p = argparse.ArgumentParser(prog="rnnlab", description="Recurrent neural networks with hand-written BPTT.")
    p.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    p.add_argument("--threads", type=int, help="BLAS threads (default: all cores; 1 is faster on a busy machine)")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model; prints final metrics as one JSON line")
    t.add_argument("task", nargs="?", help="charlm | classify | tag | seq2seq | music | caption")
    t.add_argument("--data", help="a built-in dataset name (see `rnnlab data list`) or a path to your own file "
                   "(caption: a folder with captions.tsv)")
    t.add_argument("--level", choices=["char", "word", "auto"],
                   help="charlm: characters or words as tokens; seq2seq TSV: char|word on both sides (default auto)")
    t.add_argument("--cell", default=None, help="rnn | lstm | gru (| bag for classify)")
    t.add_argument("--hidden", type=int)
    t.add_argument("--layers", type=int)
    t.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                   help="bidirectional recurrent layers (--no-bidirectional: forward only)")
    t.add_argument("--char-embed", type=int, help="tag: character-feature size (0: none)")
    t.add_argument("--embed", type=int)
    t.add_argument("--dropout", type=float)
    t.add_argument("--epochs", type=int)
    t.add_argument("--max-time", type=float, help="stop training after this many seconds")
    t.add_argument("--batch", type=int)
    t.add_argument("--bptt", type=int, help="charlm: steps per truncated-BPTT chunk")
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop", "adagrad"])
    t.add_argument("--clip", type=float, help="global gradient-norm limit (0: off)")
    t.add_argument("--patience", type=int, help="early stopping after N epochs without improvement (0: off)")
    t.add_argument("--lr-schedule", choices=["plateau", "cosine", "step", "none"])
    t.add_argument("--pooling", choices=["last", "mean", "max"], help="classify: how the sequence is summarised")
    t.add_argument("--pretrained", help="classify/tag: initial word vectors: glove | word2vec | fasttext | none")
    t.add_argument("--freeze-embeddings", action="store_true", default=None)
    t.add_argument("--crf", action="store_true", default=None, help="tag: CRF output layer")
    t.add_argument("--init", choices=["state", "input", "both"], help="caption: the image sets the initial state, "
                   "is fed at every step, or both")
    t.add_argument("--pca", type=int, help="caption: PCA components of the image features (0: raw pixels)")
    t.add_argument("--mode", choices=["pianoroll", "melody"], help="music: polyphonic piano roll or soprano melody")
    t.add_argument("--attention", choices=["luong", "bahdanau", "none"], help="seq2seq attention")
    t.add_argument("--limit", type=int, help="use only the first N examples (or characters for charlm)")
    t.add_argument("--seed", type=int)
    t.add_argument("--save-every", type=float, help="seconds between resume checkpoints (0: every step)")
    t.add_argument("--out", help="output directory (default: runs/TASK)")
    t.add_argument("--resume", metavar="OUT", help="continue the run in OUT exactly where it stopped")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    t.add_argument("--backend", choices=["numpy", "torch"], help="the engine of each training step (torch: the "
                   "model's PyTorch twin, `pip install 'rnnlab[torch]'`); default numpy")
    t.add_argument("--device", help="--backend torch: cpu (default) or cuda")

    g = sub.add_parser("generate", help="sample from a trained generative model")
    g.add_argument("dir")
    g.add_argument("--prime", default=None,
                   help="text to start from; music: a chorale name, test-split index, or MIDI/MusicXML file")
    g.add_argument("--length", type=int, default=None,
                   help="tokens to generate (default 500); music: quarter notes (default 64)")
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--output", help="music: the MIDI file to write")

    pr = sub.add_parser("predict", help="predict for each input; one JSON line out per input")
    pr.add_argument("dir")
    pr.add_argument("inputs", nargs="*", help="inputs; none: one per line on stdin")
    pr.add_argument("--beam", type=int, default=1, help="seq2seq/caption: beam width (1: greedy)")
    pr.add_argument("--show-attention", action="store_true", help="seq2seq: include attention weights")

    e = sub.add_parser("evaluate", help="metrics of a trained model on held-out data, as one JSON object")
    e.add_argument("dir")
    e.add_argument("--data", help="dataset name or file (default: the held-out split of the training data)")
    e.add_argument("--beam", type=int, help="seq2seq: beam width for decoding (default: greedy)")

    x = sub.add_parser("export", help="write a trained model as a PyTorch twin file or ONNX")
    x.add_argument("dir")
    x.add_argument("--format", choices=["torch", "onnx"], required=True)
    x.add_argument("--out", required=True, help="the file to write (torch: safetensors; onnx: .onnx)")

    d = sub.add_parser("data", help="built-in datasets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dsub.add_parser("list", help="list the built-in datasets")
    dg = dsub.add_parser("get", help="fetch and cache a dataset for offline use")
    dg.add_argument("name")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a user error must be one line, not a traceback
        if os.environ.get("RNNLAB_DEBUG"):
            raise
        if not _is_user_error(e):
            raise
        msg = " ".join(str(e).split())
        print(f"rnnlab: error: {msg}", file=sys.stderr)
        return 2


def _is_user_error(e):
    from .data.errors import DataError, DatasetUnavailable
    from .train.checkpoint import CheckpointError

    return isinstance(e, (DataError, DatasetUnavailable, CheckpointError, ValueError, FileNotFoundError,
                          IsADirectoryError, PermissionError, FloatingPointError, UnicodeDecodeError))


def _dispatch(args):
    from . import tasks

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    if args.command == "train":
        result = tasks.train(args)
        if result is not None:          # None: a torchrun rank other than 0
            print(json.dumps(result, sort_keys=True))
    elif args.command == "generate":
        out = tasks.generate(args)
        if out is not None:
            print(out)
    elif args.command == "predict":
        inputs = args.inputs or [line.rstrip("\n") for line in sys.stdin if line.strip()]
        for result in tasks.predict(args.dir, inputs, args):
            print(json.dumps(result, ensure_ascii=False))
    elif args.command == "evaluate":
        print(json.dumps(tasks.evaluate(args.dir, args.data, args.beam), sort_keys=True))
    elif args.command == "export":
        from .train.backends import require_torch

        require_torch("rnnlab export")
        from .torch.export import export

        print(json.dumps(export(args.dir, args.format, args.out)))
    elif args.command == "data":
        from .data import list_datasets, load_dataset

        if args.data_command == "list":
            for name, task, desc in list_datasets():
                print(f"{name:18s} {task:9s} {desc}")
        else:
            data = load_dataset(args.name)
            print(json.dumps({"name": args.name, "items": len(data), "type": type(data).__name__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
