"""The `norm-v1` text normaliser that ships inside serving artifacts (inference/text.py)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from sentimentops.core.settings import REPO_ROOT
from sentimentops.inference.text import NORMALIZE_VERSION, get_normalizer, normalize_v1
from sentimentops.training.perturb import PERTURBATIONS

DOMAINS = REPO_ROOT / "datasets" / "real_domains"
# Sources full of emoji, emoticons, elongations, look-alikes and markup.
NOISY_SOURCES = (
    "figlang2020_twitter",
    "ptacek_2014_en_partial",
    "twitter_us_airline",
    "goemotions_sentiment",
    "sarc_pol_balanced",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yay jury duty 😒", "Yay jury duty unamused face"),
        ("love when my boss micromanaged me (:", "love when my boss micromanaged me smiling face"),
        ("Food was so gooodd.", "Food was so goodd."),
        ("sooooo good!!!!!!", "soo good!!!"),
        ("why???? ok.......", "why??? ok..."),
        ("I <3 it :-) but :( later", "I red heart it smiling face but sad face later"),
        ("👍🏽 nice", "thumbs up sign nice"),  # the skin tone is no word of its own
        ("gr\u200beat fi\u200dlm\u2060", "great film"),
        ("a &amp; b <b>bold</b>", "a & b bold"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert normalize_v1(text) == expected


def test_emoji_become_their_names() -> None:
    assert "unamused face" in normalize_v1("Yay jury duty 😒")
    assert "smiling face" in normalize_v1("love when my boss micromanaged me (:")
    assert "face with tears of joy" in normalize_v1("great service 😂😂")


def test_elongations_keep_two_letters() -> None:
    assert normalize_v1("Food was so gooodd.") == "Food was so goodd."
    assert normalize_v1("goooooood") == "good"
    assert normalize_v1("good") == "good"  # two letters are a spelling, not an elongation
    assert normalize_v1("2000000 views") == "2000000 views"  # digits are never capped


def test_emoticons_need_space_around_them() -> None:
    # Not faces: a ratio in brackets, the end of a URL.
    assert normalize_v1("see (a:b) at http://x.io/:)") == "see (a:b) at http://x.io/:)"
    assert normalize_v1("fine :), thanks") == "fine smiling face , thanks"


def test_cyrillic_look_alikes_in_english_text_are_folded() -> None:
    # "Т", "а" and "е" below are Cyrillic.
    imitation = "\u0422his is \u0430 gr\u0435at film"
    assert imitation != "This is a great film"
    assert normalize_v1(imitation) == "This is a great film"
    assert normalize_v1("\u0430\u0440\u0440le") == "apple"  # a word wholly imitated


@pytest.mark.parametrize(
    "text",
    [
        "Это отличный фильм, очень рекомендую всем",
        "Ελληνικά είναι ωραία και καλά",
        "Фильм очень хороший и интересный, but weak",  # mostly Cyrillic: Russian words stay
    ],
)
def test_other_scripts_stay_themselves(text: str) -> None:
    folded = normalize_v1(text)
    assert folded.split()[0] == text.split()[0]
    assert folded == text


def test_zero_width_and_control_characters_are_removed() -> None:
    text = "aw\u200bful\u200c \u200dfi\ufeffl\u00adm\x07"
    assert normalize_v1(text) == "awful film"


def test_homoglyph_and_zero_width_perturbations_are_undone() -> None:
    rng = random.Random(5)  # noqa: S311 - a seeded test input
    text = "the acting was superb and the ending quietly perfect in every way possible"
    for name in ("homoglyphs", "zero_width"):
        perturbed = PERTURBATIONS[name](text, rng)
        assert perturbed != text
        assert normalize_v1(perturbed) == text, name


def _noisy_texts(n_per_source: int) -> list[str]:
    texts: list[str] = []
    for source in NOISY_SOURCES:
        frame = pd.read_parquet(DOMAINS / source / f"{source}.parquet", columns=["text"])
        texts.extend(frame["text"].astype(str).sample(n=n_per_source, random_state=3))
    return texts


def test_idempotent_on_real_and_perturbed_texts() -> None:
    texts = _noisy_texts(100)
    rng = random.Random(11)  # noqa: S311 - seeded test inputs
    texts += [PERTURBATIONS[name](t, rng) for t in texts[:200] for name in PERTURBATIONS]
    texts += ["", "   ", "!!!!", "😒😒😒", ":) :) :)", "ооо", "a\u200b\u200b\u200bb"]
    for text in texts:
        once = normalize_v1(text)
        assert normalize_v1(once) == once, repr(text)


def test_idempotent_on_small_capitals_near_the_latin_share_line() -> None:
    text = "wow this seems like a huge ᴡᴀsᴛᴇ ᴏ- ᴡᴀɪᴛ ᴀ ᴍɪɴᴜᴛᴇ. ɴᴏ, ᴛʜɪs ɪs ɢᴏᴏᴅ"
    once = normalize_v1(text)
    assert normalize_v1(once) == once


def test_registry_of_normalisers() -> None:
    assert get_normalizer(NORMALIZE_VERSION) is normalize_v1
    assert NORMALIZE_VERSION == "norm-v1"
    keep = get_normalizer(None)
    assert keep("Тhis  😒 gooood") == "Тhis  😒 gooood"  # artifacts from before norm-v1
    with pytest.raises(KeyError):
        get_normalizer("norm-v2")
