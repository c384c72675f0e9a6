"""User-style data files for the sweep and the PyTorch comparison, written deterministically.

    python benchmarks/userdata.py DIR        # writes the files below into DIR (skips existing ones)

    code.txt            ~0.9 MB of Python source: the standard library's top-level .py files of the
                        running interpreter, sorted by name, concatenated until 0.9 MB
    shakespeare_1mb.txt the first 1,000,000 characters of the built-in Shakespeare corpus
    wnut16_450.conll    the first 450 WNUT-16 tweets as a CoNLL file (token<TAB>tag, blank line between)
    cmudict_20k.tsv     20,000 CMUdict entries (every 6th, stress digits removed) as word<TAB>phonemes
    cmudict_2k.tsv      2,000 CMUdict entries (every 60th), the same format: a small user file
    rt_400.csv          400 Rotten Tomatoes snippets (every 32nd) as a text,label CSV
    turkish_450.conll   the first 450 sentences of the Turkish UPOS treebanks, CoNLL as above
    turkish_register_400.csv
                        400 Turkish treebank sentences (every 12th) labelled web or wiki, a text,label CSV
    bible_2k.tsv        2,000 English<TAB>Spanish Bible verse pairs of at most 15 English words, spread
                        over the whole book (needs the two Debian sword-text packages, see `rnnlab data list`)

Each is what a user would bring to `rnnlab train TASK --data FILE`.
"""
import csv
import os
import sys
import sysconfig

CODE_BYTES = 900_000


def write_code(path):
    stdlib = sysconfig.get_paths()["stdlib"]
    parts, size = [], 0
    for name in sorted(os.listdir(stdlib)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(stdlib, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        parts.append(text)
        size += len(text.encode("utf-8"))
        if size >= CODE_BYTES:
            break
    data = "".join(parts).encode("utf-8")[:CODE_BYTES].decode("utf-8", errors="ignore")
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def write_shakespeare(path, chars=1_000_000):
    from rnnlab.data import load_dataset

    with open(path, "w", encoding="utf-8") as f:
        f.write(load_dataset("shakespeare")[:chars])


def write_conll(path, n=450, dataset="wnut16"):
    from rnnlab.data import load_dataset

    with open(path, "w", encoding="utf-8") as f:
        for tokens, tags in load_dataset(dataset)[:n]:
            f.write("".join(f"{w}\t{t}\n" for w, t in zip(tokens, tags)) + "\n")


def write_tsv(path, n=20_000):
    from rnnlab.data import load_cmudict

    pairs = load_cmudict(alternates=True, stress=False)
    step = max(1, len(pairs) // n)
    with open(path, "w", encoding="utf-8") as f:
        for word, phonemes in pairs[::step][:n]:
            f.write(f"{word}\t{' '.join(phonemes)}\n")


def write_bible(path, n=2_000, max_words=15):
    """``n`` verse pairs whose English side has at most ``max_words`` words, spread over the whole Bible."""
    from rnnlab.data import load_dataset

    short = [(en, es) for en, es in load_dataset("bible_en_es") if len(en.split()) <= max_words]
    step = max(1, len(short) // n)
    with open(path, "w", encoding="utf-8") as f:
        for en, es in short[::step][:n]:
            f.write(f"{en}\t{es}\n")


def write_csv(path, n=400, dataset="rotten_tomatoes"):
    from rnnlab.data import load_dataset

    rows = load_dataset(dataset)
    step = max(1, len(rows) // n)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows[::step][:n])


FILES = {"code.txt": write_code, "shakespeare_1mb.txt": write_shakespeare, "wnut16_450.conll": write_conll,
         "cmudict_20k.tsv": write_tsv, "cmudict_2k.tsv": lambda path: write_tsv(path, 2_000),
         "rt_400.csv": write_csv, "turkish_450.conll": lambda path: write_conll(path, 450, "turkish_pos"),
         "bible_2k.tsv": write_bible,
         "turkish_register_400.csv": lambda path: write_csv(path, 400, "turkish_register")}


def make_all(folder, names=None):
    """Write the files (only ``names`` when given) that are not in ``folder`` yet; {name: path} of all."""
    os.makedirs(folder, exist_ok=True)
    for name, write in FILES.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path) and (names is None or name in names):
            write(path + ".tmp")
            os.replace(path + ".tmp", path)
    return {name: os.path.join(folder, name) for name in FILES}


if __name__ == "__main__":
    for name, path in make_all(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/data").items():
        print(f"{path}: {os.path.getsize(path):,} bytes")
