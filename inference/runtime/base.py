"""The interface every serving runtime implements, and what they share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Scorer(Protocol):
    """A loaded model: class probabilities for a batch of texts, and token attributions."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict_proba(self, texts: Sequence[str]) -> FloatArray: ...

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]: ...


def occlusion_explain(scorer: Scorer, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
    """Gradient-free attribution: how much the predicted class's probability drops when each
    word is removed. Costs one batch of at most `max_tokens + 1` texts."""
    words = text.split()
    if not words:
        return []
    words = words[:max_tokens]
    variants = [text, *(" ".join(words[:i] + words[i + 1 :]) for i in range(len(words)))]
    probs = scorer.predict_proba(variants)
    label = int(np.argmax(probs[0]))
    base = float(probs[0, label])
    return [(word, base - float(probs[i + 1, label])) for i, word in enumerate(words)]
