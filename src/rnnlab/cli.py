"""The ``rnnlab`` command: train, generate, predict, evaluate, data.

Every user error (bad file, bad flag, corrupt checkpoint, an OS error such as a
full disk) ends in one line on stderr, ``rnnlab: error: ...``, and exit code 2 —
never a traceback. An internal bug ends in one line and exit code 1; ``--debug``
(or RNNLAB_DEBUG=1) shows its traceback.
"""
import argparse
import json
import os
import sys
import warnings

from . import __version__
from .ranges import CHOICES, flag_type, help_range


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``rnnlab: error: ...``, exit 2), not the usage block."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} -h`)")


class UsageError(ValueError):
    pass


def _shared_flags(sp):
    """--threads and --debug are accepted before or after the subcommand."""
    sp.add_argument("--threads", type=flag_type("threads"), default=argparse.SUPPRESS,
                    help=help_range("threads", "BLAS threads (default: 1; all cores for hidden sizes from 512 on "
                                    "an idle machine)"))
    sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                    help="show the Python traceback of an internal error")


def build_parser():
    p = Parser(prog="rnnlab", description="Recurrent neural networks with hand-written BPTT.")
    p.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    _shared_flags(p)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model; prints final metrics as one JSON line")
    _shared_flags(t)
    t.add_argument("task", nargs="?", help="charlm | classify | tag | seq2seq | music | caption | speech")
    t.add_argument("--data", help="a built-in dataset name (see `rnnlab data list`) or a path to your own file "
                   "(caption: a folder with captions.tsv; speech: a folder with transcripts.tsv)")
    t.add_argument("--level", choices=CHOICES["level"],
                   help="charlm: characters or words as tokens; seq2seq TSV: char|word on both sides (default auto); "
                   "speech: character or word targets")
    t.add_argument("--cell", default=None, help="rnn | lstm | gru (| bag for classify)")
    t.add_argument("--hidden", type=flag_type("hidden"), help=help_range("hidden"))
    t.add_argument("--layers", type=flag_type("layers"), help=help_range("layers"))
    t.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                   help="bidirectional recurrent layers (--no-bidirectional: forward only)")
    t.add_argument("--char-embed", type=flag_type("char_embed"),
                   help=help_range("char_embed", "tag: character-feature size (0: none)"))
    t.add_argument("--embed", type=flag_type("embed"), help=help_range("embed"))
    t.add_argument("--dropout", type=flag_type("dropout"), help=help_range("dropout"))
    t.add_argument("--epochs", type=flag_type("epochs"), help=help_range("epochs"))
    t.add_argument("--max-time", type=flag_type("max_time"),
                   help=help_range("max_time", "stop training after this many seconds; without --epochs, "
                                   "train until the time is up or early stopping ends it"))
    t.add_argument("--batch", type=flag_type("batch"), help=help_range("batch"))
    t.add_argument("--bptt", type=flag_type("bptt"), help=help_range("bptt", "charlm: steps per truncated-BPTT chunk"))
    t.add_argument("--lr", type=flag_type("lr"), help=help_range("lr"))
    t.add_argument("--optimizer", choices=CHOICES["optimizer"])
    t.add_argument("--clip", type=flag_type("clip"), help=help_range("clip", "global gradient-norm limit (0: off)"))
    t.add_argument("--patience", type=flag_type("patience"),
                   help=help_range("patience", "early stopping after N epochs without improvement (0: off)"))
    t.add_argument("--lr-schedule", choices=CHOICES["lr_schedule"])
    t.add_argument("--lr-patience", type=flag_type("lr_patience"),
                   help=help_range("lr_patience", "plateau schedule: halve the rate once more than N epochs in a row "
                                                  "did not improve (0: after each one)"))
    t.add_argument("--lr-cooldown", type=flag_type("lr_cooldown"),
                   help=help_range("lr_cooldown", "with --max-time: over this last fraction of the budget the rate "
                                                  "falls linearly to 0 (default 0.4, tag 0; 0: off)"))
    t.add_argument("--pooling", choices=CHOICES["pooling"], help="classify: how the sequence is summarised")
    t.add_argument("--word-dropout", type=flag_type("word_dropout"),
                   help=help_range("word_dropout", "classify: each training word becomes <unk> with this probability, "
                                                   "so that words not seen in training have a trained vector (default 0.1)"))
    t.add_argument("--pretrained", help="classify/tag: initial word vectors: glove | word2vec | fasttext | none; "
                   "classify --cell bag: doc2vec (document vectors)")
    t.add_argument("--freeze-embeddings", action="store_true", default=None)
    t.add_argument("--crf", action=argparse.BooleanOptionalAction, default=None,
                   help="tag: CRF output layer (--no-crf: a softmax per token)")
    t.add_argument("--init", choices=CHOICES["init"], help="caption: the image sets the initial state, "
                   "is fed at every step, or both")
    t.add_argument("--pca", type=flag_type("pca"),
                   help=help_range("pca", "caption: PCA components of the image features (0: raw pixels)"))
    t.add_argument("--mode", choices=CHOICES["mode"], help="music: polyphonic piano roll or soprano melody")
    t.add_argument("--attention", choices=CHOICES["attention"], help="seq2seq attention")
    t.add_argument("--subsample", type=flag_type("subsample"),
                   help=help_range("subsample", "speech: frames stacked into one recurrent step (1: none)"))
    t.add_argument("--features", choices=CHOICES["features"], help="speech: features of .wav/.flac recordings")
    t.add_argument("--lexicon", help="speech: a word-list file; beam search then writes only its words")
    t.add_argument("--limit", type=flag_type("limit"),
                   help=help_range("limit", "use only the first N examples (or characters for charlm)"))
    t.add_argument("--seed", type=flag_type("seed"), help=help_range("seed"))
    t.add_argument("--save-every", type=flag_type("save_every"),
                   help=help_range("save_every", "seconds between resume checkpoints (0: every step)"))
    t.add_argument("--out", help="output directory (default: runs/TASK)")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --out (its files are kept "
                   "until the new run has saved a model)")
    t.add_argument("--resume", metavar="OUT", help="continue the run in OUT exactly where it stopped, with its "
                   "saved settings (no other training flags)")
    t.add_argument("--keep-resume", action="store_true", default=None,
                   help="keep OUT/resume.safetensors after a clean finish (removed by default)")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    t.add_argument("--report", action="store_true", help="write OUT/report.html when training ends")
    t.add_argument("--backend", choices=["numpy", "torch"], help="the engine of each training step (torch: the "
                   "model's PyTorch twin, `pip install 'rnnlab[torch]'`); default numpy")
    t.add_argument("--device", help="--backend torch: cpu (default) or cuda")

    g = sub.add_parser("generate", help="sample from a trained generative model")
    _shared_flags(g)
    g.add_argument("dir")
    g.add_argument("--prime", default=None,
                   help="text to start from; music: a chorale name, test-split index, or MIDI/MusicXML file")
    g.add_argument("--length", type=flag_type("length"), default=None,
                   help=help_range("length", "tokens to generate (default 500); music: quarter notes (default 64)"))
    g.add_argument("--temperature", type=flag_type("temperature"), default=0.8,
                   help=help_range("temperature", "0: always the most likely token"))
    g.add_argument("--top-k", type=flag_type("top_k"), help=help_range("top_k"))
    g.add_argument("--top-p", type=flag_type("top_p"), help=help_range("top_p"))
    g.add_argument("--seed", type=flag_type("seed"), help=help_range("seed"))
    g.add_argument("--output", help="music: the MIDI file to write")

    pr = sub.add_parser("predict", help="predict for each input; one JSON line out per input")
    _shared_flags(pr)
    pr.add_argument("dir")
    pr.add_argument("inputs", nargs="*", help="inputs; none: one per line on stdin")
    pr.add_argument("--beam", type=flag_type("beam"), default=None,
                    help=help_range("beam", "seq2seq/caption/speech: beam width (default 1: greedy)"))
    pr.add_argument("--show-attention", action="store_true", help="seq2seq: include attention weights")

    e = sub.add_parser("evaluate", help="metrics of a trained model on held-out data, as one JSON object")
    _shared_flags(e)
    e.add_argument("dir")
    e.add_argument("--data", help="dataset name or file (default: the held-out split of the training data)")
    e.add_argument("--beam", type=flag_type("beam"), help=help_range("beam", "seq2seq/caption: beam width for "
                                                                     "decoding (default: greedy)"))

    rp = sub.add_parser("report", help="one offline HTML page per run: the unrolled model, training, gradient flow, "
                        "hidden units, the task's examples")
    rp.add_argument("dirs", nargs="+", metavar="DIR", help="run directories (several: compared side by side)")
    rp.add_argument("--out", help="the HTML file (default: DIR/report.html of the first run)")
    rp.add_argument("--png", metavar="FIGDIR", help="also write every figure as a PNG into FIGDIR")

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
    debug = bool(os.environ.get("RNNLAB_DEBUG"))
    try:
        with warnings.catch_warnings():
            args = build_parser().parse_args(argv)
            debug = debug or getattr(args, "debug", False)
            if not debug:   # NumPy's overflow/invalid-value warnings (and any library's) stay off the terminal
                warnings.simplefilter("ignore")
            return _dispatch(args)
    except KeyboardInterrupt:
        out = _train_out(args) if "args" in locals() else None
        hint = f"; resume with: rnnlab train --resume {out}" if out else ""
        print(f"rnnlab: interrupted{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (e.g. `head`) closed the pipe: stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - every failure is one line, not a traceback
        if debug:
            raise
        print(f"rnnlab: error: {_message(e)}", file=sys.stderr)
        return 2 if _is_user_error(e) else 1


def _train_out(args):
    if getattr(args, "command", None) != "train":
        return None
    return args.resume or args.out or (os.path.join("runs", args.task) if args.task else None)


def _message(e):
    if isinstance(e, OSError) and not isinstance(e, UnicodeError):
        where = f"{e.filename}: " if e.filename else ""
        return " ".join(f"{where}{e.strerror or e}".split())
    msg = " ".join(str(e).split())
    if isinstance(e, MemoryError):
        return f"out of memory ({msg or 'an allocation failed'}); try a smaller --batch, --bptt, --hidden or --limit"
    if _is_user_error(e):
        return msg
    return f"internal error: {type(e).__name__}: {msg[:300]} (run with --debug for the traceback)"


def _is_user_error(e):
    from .data.errors import DataError, DatasetUnavailable
    from .train.checkpoint import CheckpointError

    return isinstance(e, (DataError, DatasetUnavailable, CheckpointError, ValueError, OSError, FloatingPointError,
                          UnicodeError, MemoryError))


def _dispatch(args):
    from . import tasks

    threads = getattr(args, "threads", None)
    if threads is None:
        threads = tasks.default_threads(args)
    if threads is not None:
        from .engine import set_num_threads

        set_num_threads(threads)

    if args.command == "train":
        result = tasks.train(args)
        if result is not None:          # None: a torchrun rank other than 0
            print(json.dumps(result, sort_keys=True))
            if args.report:
                print(_report([args.resume or args.out or os.path.join("runs", args.task)], None, None),
                      file=sys.stderr)
    elif args.command == "generate":
        out = tasks.generate(args)
        if out is not None:
            print(out)
    elif args.command == "predict":
        # stdin streams: each line is answered as soon as it arrives
        batches = [args.inputs] if args.inputs else ([line] for line in _stdin_lines())
        for result in tasks.predict_stream(args.dir, batches, args):
            print(json.dumps(result, ensure_ascii=False), flush=not args.inputs)
    elif args.command == "evaluate":
        print(json.dumps(tasks.evaluate(args.dir, args.data, args.beam), sort_keys=True))
    elif args.command == "report":
        print(_report(args.dirs, args.out, args.png))
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


def _stdin_lines():
    """Non-blank lines of stdin as UTF-8 (a BOM and CRLF endings handled), read as they arrive."""
    for n, raw in enumerate(iter(sys.stdin.buffer.readline, b""), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"<stdin>:{n}: not UTF-8 text (byte 0x{raw[e.start]:02x} "
                             f"at column {e.start + 1})") from None
        line = line.removeprefix("\ufeff") if n == 1 else line
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def _report(dirs, out, png):
    from .report import check_out, check_png_folder, report

    if out:
        check_out(out)              # before the work, not after it
    if png:
        check_png_folder(png)
    r = report(*dirs)
    path = r.save(out or os.path.join(dirs[0], "report.html"))
    if png:
        r.save_png(png)
    r.close()
    return path


if __name__ == "__main__":
    sys.exit(main())
