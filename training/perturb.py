"""Small edits that must not change a model's answer: the robustness suite of the evaluation
harness (training/evaluation.py) and the noise augmentation of training draw on the same
perturbations, each seeded by the caller.

The suite is deliberately harsher than a reader would be: 10 % of words carry a typo, 10 % of
words carry look-alike letters, emoji are appended or swapped for others.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

# Cyrillic look-alikes of Latin letters (what spam and evasion use).
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у"}
# Faces and symbols of every mood: a neutral suite, not one nudging towards a label.
EMOJI = ("😀", "😂", "🙄", "👍", "🔥", "😢", "😊", "😒", "🤔", "🎉", "💯", "😭", "✨", "🙏")
WORD_SHARE = 0.1


def _words_at(text: str, rng: random.Random, share: float) -> tuple[list[str], list[int]]:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 3]
    if not candidates:
        return words, []
    k = max(1, round(share * len(candidates)))
    return words, sorted(rng.sample(candidates, min(k, len(candidates))))


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    kind = rng.randrange(4)
    i = rng.choice(letters[:-1]) if len(letters) > 1 else letters[0]
    if kind == 0 and i + 1 < len(word):  # swap two adjacent characters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop one
        return word[:i] + word[i + 1 :]
    if kind == 2:  # double one
        return word[:i] + word[i] + word[i:]
    # replace with a neighbour on the keyboard row
    row = "qwertyuiopasdfghjklzxcvbnm"
    j = row.find(word[i].lower())
    neighbour = row[j + 1] if 0 <= j < len(row) - 1 else "e"
    return word[:i] + neighbour + word[i + 1 :]


def typos(text: str, rng: random.Random) -> str:
    """One typo (swap, drop, double or replace a letter) in 10 % of the words (at least one)."""
    words, picked = _words_at(text, rng, WORD_SHARE)
    for i in picked:
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def homoglyphs(text: str, rng: random.Random) -> str:
    """Every replaceable letter of 10 % of the words (at least one) swapped for its Cyrillic
    look-alike."""
    words, picked = _words_at(text, rng, WORD_SHARE)
    for i in picked:
        words[i] = "".join(HOMOGLYPHS.get(c, c) for c in words[i])
    return " ".join(words)


def emoji(text: str, rng: random.Random) -> str:
    """Swap an emoji the text has for another one, or append one when it has none."""
    present = [e for e in EMOJI if e in text]
    if present:
        old = rng.choice(present)
        return text.replace(old, rng.choice([e for e in EMOJI if e != old]), 1)
    return f"{text} {rng.choice(EMOJI)}"


def zero_width(text: str, rng: random.Random) -> str:
    """A zero-width space after 10 % of the letters."""
    return "".join(ch + "\u200b" if ch.isalpha() and rng.random() < 0.1 else ch for ch in text)


def casing(text: str, rng: random.Random) -> str:
    """All capitals or title case."""
    return text.upper() if rng.random() < 0.5 else text.title()


Perturbation = Callable[[str, random.Random], str]
PERTURBATIONS: dict[str, Perturbation] = {
    "typos": typos,
    "homoglyphs": homoglyphs,
    "emoji": emoji,
    "zero_width": zero_width,
    "casing": casing,
}
# What augmentation draws from: the normaliser already undoes look-alikes and zero-width
# characters, so training spends its noise on what only the model can learn to ignore.
AUGMENTATIONS: tuple[Perturbation, ...] = (typos, typos, casing, emoji)


def augment(texts: Sequence[str], *, rate: float, seed: int) -> list[str]:
    """Each text, with probability `rate`, replaced by a copy with one augmentation."""
    rng = random.Random(f"augment:{seed}")  # noqa: S311 - reproducible noise, not security
    out = []
    for text in texts:
        if rng.random() < rate:
            text = rng.choice(AUGMENTATIONS)(text, rng)
        out.append(text)
    return out
