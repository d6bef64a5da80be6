"""A small labelled set whose classes are told apart by their words, with planted label flips:
confident learning must find exactly those rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

SARCASTIC = [
    "oh",
    "great",
    "wonderful",
    "another",
    "genius",
    "brilliant",
    "thanks",
    "totally",
    "love",
    "perfect",
]
PLAIN = [
    "report",
    "council",
    "budget",
    "weather",
    "court",
    "announces",
    "study",
    "shows",
    "minister",
    "opens",
]
FILLER = ["the", "a", "of", "in", "on", "for", "today", "new", "city", "local"]


def labelled(
    n: int = 300, *, flips: int = 10, seed: int = 3, sarcastic_share: float = 0.5
) -> tuple[pd.DataFrame, set[str]]:
    """`n` rows (ids r0000…), `sarcastic_share` of them sarcastic (label 1), `flips` of them
    with the wrong label; returns the frame and the flipped rows' ids."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) < round(n * sarcastic_share)).astype(np.int64)
    rng.shuffle(labels)
    texts = []
    for i, label in enumerate(labels):
        words = rng.choice(SARCASTIC if label else PLAIN, size=4, replace=False).tolist()
        texts.append(" ".join([*words, *rng.choice(FILLER, size=2).tolist(), f"n{i}"]))
    ids = [f"r{i:04d}" for i in range(n)]
    flipped = rng.choice(n, size=flips, replace=False)
    given = labels.copy()
    given[flipped] = 1 - given[flipped]
    frame = pd.DataFrame({"id": ids, "text": texts, "label": given})
    return frame, {ids[i] for i in flipped}
