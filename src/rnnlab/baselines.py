"""Reference points for a character model's bits per character: a character n-gram and xz.

    ngram_bpc(train_text, test_text, order=5)   # interpolated Kneser-Ney-style n-gram
    xz_bpc(train_text, test_text)               # xz -9 on test given train as a dictionary

Both see the same train/test split as ``rnnlab train charlm`` (see tasks/charlm.split_text).
"""
import lzma
import math
from collections import Counter, defaultdict


def ngram_bpc(train, test, order=5, discount=0.75):
    """Bits per character of an interpolated absolute-discounting n-gram (Kneser-Ney continuation counts).

    P(c | h) = max(n(h,c) - d, 0) / n(h) + d * N1+(h .) / n(h) * P(c | h[1:]),
    with the lowest order a Kneser-Ney continuation unigram mixed with uniform over
    the alphabet (train + test characters), so unseen characters get a finite cost.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    alphabet = sorted(set(train) | set(test))
    V = len(alphabet)
    counts = [defaultdict(Counter) for _ in range(order)]   # counts[k][history of length k][char]
    for k in range(order):
        ck = counts[k]
        for i in range(k, len(train)):
            ck[train[i - k:i]][train[i]] += 1
    # continuation counts for the unigram: number of distinct left contexts of each char
    cont = Counter()
    if order > 1:
        for h, cnt in counts[1].items():
            for c in cnt:
                cont[c] += 1
    else:
        cont = counts[0][""]
    cont_total = sum(cont.values())
    totals = [{h: sum(c.values()) for h, c in ck.items()} for ck in counts]

    def prob(history, c):
        p = 0.5 * (cont[c] / cont_total if cont_total else 0.0) + 0.5 / V
        for k in range(1, order):
            if len(history) < k:
                break
            h = history[-k:]
            cnt = counts[k].get(h)
            if not cnt:
                break
            n = totals[k][h]
            p = max(cnt[c] - discount, 0.0) / n + discount * len(cnt) / n * p
        return p

    bits = 0.0
    for i, c in enumerate(test):
        history = (train[-order:] + test[:i])[-(order - 1):] if order > 1 else ""
        bits -= math.log2(prob(history, c))
    return bits / len(test)


def xz_bpc(train, test, preset=9):
    """Extra bits xz -9 (LZMA2, extreme) spends on ``test`` after it has seen ``train``, per test character."""
    filters = [{"id": lzma.FILTER_LZMA2, "preset": preset | lzma.PRESET_EXTREME, "dict_size": 1 << 26}]

    def size(text):
        return len(lzma.compress(text.encode("utf-8"), format=lzma.FORMAT_RAW, filters=filters))

    return 8.0 * (size(train + test) - size(train)) / len(test)


def main(argv=None):
    """python -m rnnlab.baselines [--data shakespeare] [--orders 3 5 7]: one JSON line of bits per char."""
    import argparse
    import json

    from .tasks.charlm import load_text, split_text

    p = argparse.ArgumentParser(prog="python -m rnnlab.baselines")
    p.add_argument("--data", default="shakespeare")
    p.add_argument("--orders", type=int, nargs="+", default=[3, 5, 7])
    a = p.parse_args(argv)
    train, _, test = split_text(load_text(a.data))
    result = {"data": a.data, "test_chars": len(test), "xz_-9_bpc": round(xz_bpc(train, test), 4)}
    for o in a.orders:
        result[f"char_{o}gram_bpc"] = round(ngram_bpc(train, test, order=o), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
