"""A synthetic classification task that only an order-aware model can solve.

Sentences compare two people on one quality, in English or Chinese:

    "Bob is stronger than Tom"   "鲍勃比汤姆强壮"
    "Tom is weaker than Bob"     "汤姆比鲍勃虚弱"

Why the label is defined the way it is: "who is stronger, the first or the
second name?" would be learnable from the adjective alone (stronger -> first,
weaker -> second), so a bag-of-words model would solve it. Instead the label
is taken in a canonical orientation that ignores sentence order: "A" if the
alphabetically first (English) name of the pair has more of the quality, "B"
if the other one does. Swapping the two names keeps the bag of words (and,
in Chinese, the bag of characters) identical but flips the label, and the
generator draws both orders with equal probability, so for every bag the two
labels are equally likely: a bag model is exactly at chance (50%), while a
model that reads the order and learns each name's alphabetical rank can reach 100%.

make_order_dataset(n, seed, languages) -> list[(text, label)], label in {"A", "B"}.
"""
from __future__ import annotations

import random

# (English, Chinese transliteration)
NAMES = [
    ("Alice", "爱丽丝"), ("Anna", "安娜"), ("Bob", "鲍勃"), ("David", "大卫"), ("Emma", "艾玛"),
    ("Frank", "弗兰克"), ("Grace", "格蕾丝"), ("Helen", "海伦"), ("Henry", "亨利"), ("Jack", "杰克"),
    ("James", "詹姆斯"), ("John", "约翰"), ("Kate", "凯特"), ("Lily", "莉莉"), ("Linda", "琳达"),
    ("Lucy", "露西"), ("Mark", "马克"), ("Mary", "玛丽"), ("Mike", "迈克"), ("Paul", "保罗"),
    ("Peter", "彼得"), ("Rose", "罗丝"), ("Sam", "萨姆"), ("Tom", "汤姆"),
]

# quality: (English "more", English "less", Chinese "more", Chinese "less")
QUALITIES = [
    ("stronger", "weaker", "强壮", "虚弱"),
    ("taller", "shorter", "高", "矮"),
    ("older", "younger", "年长", "年轻"),
    ("faster", "slower", "快", "慢"),
    ("richer", "poorer", "富有", "贫穷"),
    ("heavier", "lighter", "重", "轻"),
]

LABELS = ("A", "B")


def order_sentence(first: int, second: int, quality: int, more: bool, language: str) -> str:
    """The sentence "<first> is <more/less> than <second>" for indices into NAMES and QUALITIES."""
    en_more, en_less, zh_more, zh_less = QUALITIES[quality]
    if language == "en":
        return f"{NAMES[first][0]} is {en_more if more else en_less} than {NAMES[second][0]}"
    if language == "zh":
        return f"{NAMES[first][1]}比{NAMES[second][1]}{zh_more if more else zh_less}"
    raise ValueError(f"language must be 'en' or 'zh', got {language!r}")


def order_label(first: int, second: int, more: bool) -> str:
    """"A" if the alphabetically first name of the pair has more of the quality, else "B"."""
    winner = first if more else second
    return "A" if NAMES[winner][0] == min(NAMES[first][0], NAMES[second][0]) else "B"


def make_order_dataset(n: int, seed: int = 0, languages: tuple[str, ...] = ("en", "zh")) -> list[tuple[str, str]]:
    """n (sentence, label) pairs; the same (n, seed, languages) always gives the same list.

    Each example draws a language, an ordered pair of distinct names, a
    quality and its direction (more/less) uniformly and independently.
    """
    for lang in languages:
        if lang not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh', got {lang!r}")
    if not languages:
        raise ValueError("languages must name at least one of 'en', 'zh'")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        language = rng.choice(languages)
        first, second = rng.sample(range(len(NAMES)), 2)
        quality = rng.randrange(len(QUALITIES))
        more = rng.random() < 0.5
        out.append((order_sentence(first, second, quality, more, language), order_label(first, second, more)))
    return out
