"""The perturbations of the robustness suite and of training-time augmentation
(training/perturb.py): what each changes, how much, and that a seed fixes it."""

from __future__ import annotations

import random

import pytest

from sentimentops.training.perturb import (
    AUGMENTATIONS,
    EMOJI,
    HOMOGLYPHS,
    PERTURBATIONS,
    augment,
    casing,
    emoji,
    homoglyphs,
    typos,
    zero_width,
)

# 100 eligible words (3+ letters, no letter doubled next to itself, so that every typo shows)
# and 20 short ones that no perturbation of words may touch.
ELIGIBLE = [
    "film", "story", "acting", "plot", "music", "scene", "actor", "camera", "ending", "script",
]  # fmt: skip
SHORT = ["a", "is", "of", "it", "to"]
# Five eligible words, then a short one, twenty times.
TEXT = " ".join(
    " ".join([*ELIGIBLE[(5 * i) % 10 : (5 * i) % 10 + 5], SHORT[i % 5]]) for i in range(20)
)


def _rng(seed: int = 0) -> random.Random:
    return random.Random(seed)  # noqa: S311 - seeded test inputs


def _one_edit(before: str, after: str) -> bool:
    """`after` is `before` with one letter swapped with its neighbour, dropped, doubled or
    replaced."""
    if len(after) == len(before) - 1:
        return any(before[:i] + before[i + 1 :] == after for i in range(len(before)))
    if len(after) == len(before) + 1:
        return any(before[:i] + before[i] + before[i:] == after for i in range(len(before)))
    if len(after) != len(before):
        return False
    diff = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if len(diff) == 1:
        return True
    i = diff[0]
    return diff == [i, i + 1] and before[i] == after[i + 1] and before[i + 1] == after[i]


def _changed_positions(before: str, after: str) -> list[int]:
    old, new = before.split(" "), after.split(" ")
    assert len(old) == len(new)  # word edits never split or merge words
    return [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]


def test_fixture_text_has_100_eligible_and_20_short_words() -> None:
    words = TEXT.split(" ")
    assert sum(len(w) >= 3 for w in words) == 100
    assert sum(len(w) < 3 for w in words) == 20


@pytest.mark.parametrize("seed", range(20))
def test_typos_touch_ten_percent_of_eligible_words(seed: int) -> None:
    words = TEXT.split(" ")
    new = typos(TEXT, _rng(seed)).split(" ")
    changed = _changed_positions(TEXT, " ".join(new))
    assert len(changed) == 10
    assert all(len(words[i]) >= 3 for i in changed)  # short words are never touched
    assert all(_one_edit(words[i], new[i]) for i in changed), [new[i] for i in changed]


def test_typos_touch_at_least_one_word_of_a_short_text() -> None:
    assert typos("lovely", _rng()) != "lovely"
    assert len(_changed_positions("so bad it is", typos("so bad it is", _rng()))) == 1
    assert typos("ok no", _rng()) == "ok no"  # nothing eligible: unchanged


@pytest.mark.parametrize("seed", range(10))
def test_homoglyphs_swap_every_replaceable_letter_of_ten_percent_of_words(seed: int) -> None:
    words = TEXT.split(" ")
    new = homoglyphs(TEXT, _rng(seed)).split(" ")
    changed = [i for i, (a, b) in enumerate(zip(words, new, strict=True)) if a != b]
    assert len(changed) == 10
    for i in changed:
        assert new[i] == "".join(HOMOGLYPHS.get(c, c) for c in words[i])
        assert not any(c in HOMOGLYPHS for c in new[i])  # every replaceable letter swapped
        assert not new[i].isascii()


def test_emoji_appended_or_swapped() -> None:
    text = "what a day"
    appended = emoji(text, _rng())
    assert appended.startswith(f"{text} ")
    assert appended.removeprefix(f"{text} ") in EMOJI
    swapped = emoji("what a day 🔥 really", _rng())
    head, mark, tail = swapped.partition(" really")
    assert mark
    assert not tail
    assert head.startswith("what a day ")
    new = head.removeprefix("what a day ")
    assert new in EMOJI
    assert new != "🔥"
    # One emoji is swapped, the others stay.
    twice = emoji("🔥 hot 🔥", _rng(2))
    assert twice.count("🔥") == 1
    assert len([e for e in EMOJI if e != "🔥" and e in twice]) == 1


def test_zero_width_only_inserts_invisible_spaces() -> None:
    out = zero_width(TEXT, _rng())
    assert out != TEXT
    assert out.replace("\u200b", "") == TEXT
    letters = sum(c.isalpha() for c in TEXT)
    assert 0.05 < out.count("\u200b") / letters < 0.15  # about 10 % of the letters
    assert "\u200b\u200b" not in out
    assert all(out[i - 1].isalpha() for i, c in enumerate(out) if c == "\u200b")


def test_casing_is_upper_or_title() -> None:
    outcomes = {casing("the film was fine", _rng(seed)) for seed in range(40)}
    assert outcomes == {"THE FILM WAS FINE", "The Film Was Fine"}


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_each_perturbation_is_seeded(name: str) -> None:
    perturb = PERTURBATIONS[name]
    assert perturb(TEXT, _rng(3)) == perturb(TEXT, _rng(3))
    assert perturb(TEXT, _rng(3)) != TEXT
    if name != "casing":  # two outcomes only: seeds often agree
        outcomes = {perturb(TEXT, _rng(seed)) for seed in range(5)}
        assert len(outcomes) > 1


def test_suite_names() -> None:
    assert set(PERTURBATIONS) == {"typos", "homoglyphs", "emoji", "zero_width", "casing"}
    # The normaliser undoes look-alikes and zero-width characters: training never spends its
    # noise on them.
    assert homoglyphs not in AUGMENTATIONS
    assert zero_width not in AUGMENTATIONS


TEXTS = [
    f"the {w} was {adj} and i would watch it again"
    for w in ELIGIBLE
    for adj in ("great", "awful", "fine", "boring", "moving")
]


def test_augment_rate_zero_is_identity() -> None:
    assert augment(TEXTS, rate=0.0, seed=1) == TEXTS
    assert augment([], rate=1.0, seed=1) == []


def test_augment_rate_one_changes_most_texts() -> None:
    out = augment(TEXTS, rate=1.0, seed=1)
    assert len(out) == len(TEXTS)
    assert sum(a != b for a, b in zip(TEXTS, out, strict=True)) / len(TEXTS) > 0.9


def test_augment_rate_is_the_share_of_texts_changed() -> None:
    texts = TEXTS * 8
    share = sum(a != b for a, b in zip(texts, augment(texts, rate=0.25, seed=2), strict=True))
    assert 0.17 < share / len(texts) < 0.33


def test_augment_is_seeded() -> None:
    assert augment(TEXTS, rate=0.5, seed=4) == augment(TEXTS, rate=0.5, seed=4)
    assert augment(TEXTS, rate=0.5, seed=4) != augment(TEXTS, rate=0.5, seed=5)
