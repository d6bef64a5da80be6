"""The multilingual sentiment data (the `multilingual` mixture of training/config.py): XLM-T's
eight languages (English included) and the SentiMix code-mixed tweets, as one binary frame.

Columns `id`, `text`, `label` (int64: 0 negative, 1 positive), `split`, `domain` ("xlmt_<iso>",
"sentimix_<pair>") and `language` (ISO 639-1, or "hi-en"/"es-en" for code-mixed text).

Rules, in the order applied:
- XLM-T keeps its own splits (val → validation); SentiMix's organiser train files are split
  80/10/10 by a stable hash of the normalised text and its trial files are test;
- neutral rows are dropped (the models are binary), as are texts with an empty normalised key;
- a text (normalised key) kept once is dropped everywhere else, test splits being read first,
  then validation, then train: no text is in two splits, and the test sets lose nothing to a
  training copy elsewhere (XLM-T reuses some tweets across languages).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pandas as pd

from sentimentops.core.errors import InvalidInput
from sentimentops.training.domains import THREE_WAY
from sentimentops.training.reference_data import (
    SPLIT_SALT,
    XLMT_LANGUAGES,
    load_sentimix,
    load_xlmt,
)
from sentimentops.training.reports import SENTIMIX_FILES, THREE_TO_TWO, XLMT_ISO
from sentimentops.training.text import hash_split, normalise_key

XLMT_SPLITS = {"train": "train", "val": "validation", "test": "test"}
# Reading order for de-duplication: evaluation rows win over training rows.
_SPLIT_PRIORITY = {"test": 0, "validation": 1, "train": 2}


def _xlmt(datasets_dir: Path) -> list[pd.DataFrame]:
    parts = []
    for language in XLMT_LANGUAGES:
        iso = XLMT_ISO[language]
        for source_split, split in XLMT_SPLITS.items():
            raw = load_xlmt(datasets_dir, language, source_split)
            parts.append(raw.assign(split=split, domain=f"xlmt_{iso}", language=iso))
    return parts


def _sentimix(datasets_dir: Path) -> list[pd.DataFrame]:
    parts = []
    for pair, (train_file, trial_file) in SENTIMIX_FILES.items():
        train = load_sentimix(datasets_dir, train_file)
        # The hash of the normalised text, so that copies of a tweet share a split.
        splits = [hash_split(normalise_key(t), THREE_WAY, salt=SPLIT_SALT) for t in train["text"]]
        trial = load_sentimix(datasets_dir, trial_file)
        for raw, split in ((train, splits), (trial, "test")):
            parts.append(raw.assign(split=split, domain=f"sentimix_{pair}", language=pair))
    return parts


def load_multilingual(task: str, datasets_dir: Path) -> pd.DataFrame:
    """The multilingual sentiment frame (module docstring). Cached per process; callers get a
    copy."""
    if task != "sentiment":
        raise InvalidInput(f"the multilingual data is for sentiment only, not {task!r}")
    return _load(datasets_dir.resolve()).copy()


@functools.lru_cache(maxsize=2)
def _load(datasets_dir: Path) -> pd.DataFrame:
    raw = pd.concat([*_xlmt(datasets_dir), *_sentimix(datasets_dir)], ignore_index=True)
    raw = raw[raw["label"].isin(list(THREE_TO_TWO))]
    keys = raw["text"].astype(str).map(normalise_key)
    # Keep-first in split priority order (a stable sort keeps source order within a split);
    # the kept rows are then put back in source order.
    priority = raw["split"].map(_SPLIT_PRIORITY).sort_values(kind="stable")
    fresh = ~keys[priority.index].duplicated() & (keys[priority.index] != "")
    kept = fresh[fresh].index.sort_values()
    raw, keys = raw.loc[kept], keys.loc[kept]
    return pd.DataFrame(
        {
            "id": [
                f"{domain}:{hashlib.sha256(k.encode()).hexdigest()[:16]}"
                for domain, k in zip(raw["domain"], keys, strict=True)
            ],
            "text": raw["text"].astype(str).to_numpy(),
            "label": raw["label"].map(THREE_TO_TWO).astype("int64").to_numpy(),
            "split": raw["split"].to_numpy(),
            "domain": raw["domain"].to_numpy(),
            "language": raw["language"].to_numpy(),
        }
    )


def multilingual_files(datasets_dir: Path) -> list[Path]:
    """The bundled files `load_multilingual` reads (lineage)."""
    files = [
        datasets_dir / f"multilingual_sentiment_xlmt/{language}/{split}_{kind}.txt"
        for language in XLMT_LANGUAGES
        for split in XLMT_SPLITS
        for kind in ("text", "labels")
    ]
    files += [
        datasets_dir / f"code_mixed_sentimix/{name}"
        for names in SENTIMIX_FILES.values()
        for name in names
    ]
    return files
