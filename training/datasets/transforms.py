"""The processing steps as pure functions of a canonical frame: each returns the new frame and
the parameters/statistics recorded as the version's transform."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from sentimentops.training.reference_data import (
    IMDB_VALIDATION_FRACTION,
    SARCASM_FRACTIONS,
    SPLIT_SALT,
)
from sentimentops.training.text import PII_PLACEHOLDERS, hash_split, normalise_key, scrub_pii
from sentimentops.inference.text import CLEAN_VERSION, clean_text

Params = dict[str, Any]
# The languages of the bundled data (XLM-T's eight; SentiMix mixes English with Hindi and
# Spanish). Fewer candidates make lingua both faster and more accurate on short texts.
DETECT_LANGUAGES = ("en", "ar", "fr", "de", "hi", "it", "pt", "es")
# The first characters decide the language: enough for lingua, and long reviews cost no more.
DETECT_MAX_CHARS = 300
UNKNOWN_LANGUAGE = "unknown"


def clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, Params]:
    """training/text.py's clean_text on every text; rows left empty are dropped."""
    out = frame.copy()
    out["text"] = [clean_text(t) for t in out["text"].tolist()]
    keep = out["text"].str.len() > 0
    return out[keep].reset_index(drop=True), {
        "clean_version": CLEAN_VERSION,
        "rows_dropped_empty": int((~keep).sum()),
    }


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in DETECT_LANGUAGES]
    return (
        LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        .with_preloaded_language_models()
        .build()
    )


def detect_language(frame: pd.DataFrame) -> tuple[pd.DataFrame, Params]:
    """A `language` column (ISO 639-1, or "unknown") from lingua, restricted to DETECT_LANGUAGES."""
    detector = _detector()
    found = detector.detect_languages_in_parallel_of(
        [t[:DETECT_MAX_CHARS] for t in frame["text"].tolist()]
    )
    out = frame.copy()
    out["language"] = [
        UNKNOWN_LANGUAGE if lang is None else lang.iso_code_639_1.name.lower() for lang in found
    ]
    counts = out["language"].value_counts()
    return out, {
        "detector": "lingua",
        "languages": list(DETECT_LANGUAGES),
        "max_chars": DETECT_MAX_CHARS,
        "counts": {str(k): int(v) for k, v in counts.items()},
    }


def scrub(frame: pd.DataFrame) -> tuple[pd.DataFrame, Params]:
    """training/text.py's scrub_pii (regular expressions; no model) on every text."""
    out = frame.copy()
    before = out["text"].tolist()
    after = [scrub_pii(t) for t in before]
    out["text"] = after
    changed = sum(a != b for a, b in zip(after, before, strict=True))
    return out, {"placeholders": list(PII_PLACEHOLDERS), "rows_changed": changed}


def deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, Params]:
    """One row per normalised text (first kept); a text labelled both ways is dropped entirely,
    as reference_data.load_sarcasm does."""
    keys = frame["text"].map(normalise_key)
    labels_per_key = frame.groupby(keys)["label"].transform("nunique")
    conflicting = (labels_per_key > 1).to_numpy()
    kept = frame[~conflicting]
    kept_keys = keys[~conflicting]
    duplicate = kept_keys.duplicated(keep="first").to_numpy()
    return kept[~duplicate].reset_index(drop=True), {
        "key": "normalise_key",
        "rows_dropped_duplicate": int(duplicate.sum()),
        "rows_dropped_conflicting_labels": int(conflicting.sum()),
    }


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, Params]:
    """The reference splits' rules. With an official train/test split (IMDB), test stays and a
    validation share is carved from train by a stable hash of the id; without one (sarcasm), all
    rows are split 80/10/10 by a stable hash of the normalised text, so that a text never lands
    in two splits. A frame that already has a validation split is left as it is."""
    out = frame.copy()
    if "split" in out.columns and (out["split"] == "validation").any():
        return out, {"rule": "kept"}
    if "split" in out.columns:
        fractions = {"train": 1 - IMDB_VALIDATION_FRACTION, "validation": IMDB_VALIDATION_FRACTION}
        out["split"] = [
            hash_split(i, fractions, salt=SPLIT_SALT) if s == "train" else s
            for i, s in zip(out["id"].tolist(), out["split"].tolist(), strict=True)
        ]
        return out, {"rule": "official_test_validation_from_train", "key": "id",
                     "fractions": fractions, "salt": SPLIT_SALT}
    out["split"] = [
        hash_split(normalise_key(t), SARCASM_FRACTIONS, salt=SPLIT_SALT)
        for t in out["text"].tolist()
    ]
    return out, {"rule": "hash_of_normalised_text", "key": "normalise_key",
                 "fractions": SARCASM_FRACTIONS, "salt": SPLIT_SALT}
