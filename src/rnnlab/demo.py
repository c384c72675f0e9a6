"""`make demo`: train a character LSTM on Shakespeare for a few minutes, then print generated text.

    python -m rnnlab.demo [--minutes 3] [--out runs/demo]
"""
import argparse
import sys

from .cli import main as cli


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m rnnlab.demo")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--out", default="runs/demo")
    a = p.parse_args(argv)
    print(f"Training a 2-layer character LSTM on Shakespeare for {a.minutes:g} minutes (rnnlab train charlm) ...",
          flush=True)
    rc = cli(["train", "charlm", "--data", "shakespeare", "--cell", "lstm", "--hidden", "256", "--layers", "2",
              "--epochs", "1000", "--max-time", str(a.minutes * 60), "--patience", "0", "--out", a.out,
              "--overwrite"])   # a rerun of the demo replaces its own earlier run
    if rc:
        return rc
    for temperature in (0.5, 0.8):
        print(f"\n--- generated text (rnnlab generate {a.out} --temperature {temperature}) ---", flush=True)
        rc = cli(["generate", a.out, "--prime", "ROMEO:\n", "--length", "600", "--temperature", str(temperature),
                  "--seed", "1"])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
