"""The interface every serving runtime implements, and what they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Contexts = Sequence[str | None] | None
# The route of a model that is not a routed composite (inference/runtime/routed.py).
MAIN_ROUTE = "main"


@dataclass(frozen=True)
class Scored:
    """What a runtime says about each text of a batch: calibrated class probabilities, whether
    the text resembles what the model was trained on, and which component answered."""

    probabilities: FloatArray
    in_domain: BoolArray
    routes: list[str]
    # The detected language where a routed model looked (ISO 639-1), else None.
    languages: list[str | None]

    @classmethod
    def single(cls, probabilities: FloatArray, in_domain: BoolArray) -> Scored:
        """The answer of a model that is not routed."""
        n = len(probabilities)
        return cls(probabilities, in_domain, [MAIN_ROUTE] * n, [None] * n)

    @classmethod
    def concat(cls, parts: Sequence[Scored], n_labels: int) -> Scored:
        if not parts:
            return cls(np.zeros((0, n_labels)), np.zeros(0, dtype=bool), [], [])
        return cls(
            np.concatenate([p.probabilities for p in parts], axis=0),
            np.concatenate([p.in_domain for p in parts]),
            [r for p in parts for r in p.routes],
            [lang for p in parts for lang in p.languages],
        )

    def take(self, indices: Sequence[int] | npt.NDArray[np.int64]) -> Scored:
        index = np.asarray(indices, dtype=np.int64)
        return Scored(
            self.probabilities[index],
            self.in_domain[index],
            [self.routes[i] for i in index],
            [self.languages[i] for i in index],
        )

    def __len__(self) -> int:
        return len(self.routes)


class Scorer(Protocol):
    """A loaded model: class probabilities for a batch of texts (each with an optional
    context, the previous turn), the same with per-text routing and domain signals, and token
    attributions."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray: ...

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored: ...

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


def length_sorted(
    texts: Sequence[str], contexts: Contexts, batch_size: int
) -> list[tuple[list[int], list[str], list[str | None] | None]]:
    """The texts in batches of at most `batch_size`, similar lengths together (a runtime pads a
    batch to its longest text): (indices into the input, texts, contexts) per batch. Every
    caller that scores many texts at once batches this way: the service's micro-batcher,
    evaluation, export checks and the benchmarks."""
    size = max(1, batch_size)
    order = sorted(
        range(len(texts)),
        key=lambda i: len(texts[i]) + len((contexts[i] if contexts is not None else None) or ""),
    )
    batches = []
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        given = [contexts[i] for i in chunk] if contexts is not None else None
        batches.append((chunk, [texts[i] for i in chunk], given))
    return batches


def score_by_length(
    scorer: Scorer, texts: Sequence[str], contexts: Contexts, batch_size: int
) -> Scored:
    """`scorer.score` over length-sorted batches, answered in input order."""
    batches = length_sorted(texts, contexts, batch_size)
    parts = [scorer.score(batch, given) for _chunk, batch, given in batches]
    order = [i for chunk, _batch, _given in batches for i in chunk]
    return Scored.concat(parts, len(scorer.labels)).take(np.argsort(order))


def proba_by_length(
    scorer: Scorer, texts: Sequence[str], contexts: Contexts, batch_size: int
) -> FloatArray:
    """`scorer.predict_proba` over length-sorted batches, in input order."""
    result = np.zeros((len(texts), len(scorer.labels)))
    for chunk, batch, given in length_sorted(texts, contexts, batch_size):
        result[chunk] = scorer.predict_proba(batch, given)
    return result
