"""Topics of a set of texts: spherical k-means over their MiniLM vectors, the number of topics
chosen by the silhouette, keywords by class-based TF-IDF, examples closest to the centroid.

Plain numpy (the API process has no scikit-learn: it comes with the training extra), and
deterministic: the texts arrive in a fixed order and every random choice comes from one seeded
generator, so the same texts always give the same topics."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sentimentops.knowledge_base.keywords import STOP_WORDS, terms

SEED = 20261127
RESTARTS = 4
MAX_ITERATIONS = 100
# The silhouette compares every pair: on more points than this it is computed on a seeded sample
# (a 2,000 x 2,000 distance matrix is 16 MB).
SILHOUETTE_SAMPLE = 2000
KEYWORDS = 5
EXAMPLES = 3

FloatMatrix = npt.NDArray[np.float32]
IntVector = npt.NDArray[np.int64]

_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Grouping:
    """Each text's topic (0 = the largest), the topics' unit centroids."""

    labels: IntVector
    centroids: FloatMatrix


def _unit(rows: FloatMatrix) -> FloatMatrix:
    norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    unit: FloatMatrix = (rows / norms).astype(np.float32)
    return unit


def _seeds(vectors: FloatMatrix, k: int, rng: np.random.Generator) -> FloatMatrix:
    """k-means++: each next seed drawn with probability proportional to its squared distance
    from the nearest seed so far."""
    first = int(rng.integers(len(vectors)))
    chosen = [first]
    nearest = np.sum((vectors - vectors[first]) ** 2, axis=1)
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0.0:  # fewer distinct points than k: repeat one (its cluster stays empty)
            chosen.append(int(rng.integers(len(vectors))))
            continue
        pick = int(rng.choice(len(vectors), p=nearest / total))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.sum((vectors - vectors[pick]) ** 2, axis=1))
    seeds: FloatMatrix = vectors[chosen].copy()
    return seeds


def _lloyd(vectors: FloatMatrix, centroids: FloatMatrix) -> tuple[IntVector, FloatMatrix, float]:
    """Spherical k-means from `centroids`: (labels, unit centroids, sum of 1 - cosine)."""
    labels: IntVector = np.full(len(vectors), -1, dtype=np.int64)
    for _ in range(MAX_ITERATIONS):
        similarity = vectors @ centroids.T
        assigned: IntVector = np.argmax(similarity, axis=1).astype(np.int64)
        if np.array_equal(assigned, labels):
            break
        labels = assigned
        one_hot = np.eye(len(centroids), dtype=np.float32)[labels]  # [n, k]
        sums = one_hot.T @ vectors  # each cluster's summed members, in one product
        filled = one_hot.sum(axis=0) > 0  # an empty cluster keeps its centroid
        centroids = _unit(np.where(filled[:, None], sums, centroids))
    cost = float(np.sum(1.0 - np.max(vectors @ centroids.T, axis=1)))
    return labels, centroids, cost


def kmeans(vectors: FloatMatrix, k: int, *, rng: np.random.Generator) -> Grouping:
    """The best of RESTARTS seeded spherical k-means runs, topics renumbered by size (largest
    first; equal sizes by their first text)."""
    best = _lloyd(vectors, _seeds(vectors, k, rng))
    for _ in range(RESTARTS - 1):
        run = _lloyd(vectors, _seeds(vectors, k, rng))
        if run[2] < best[2] - 1e-9:
            best = run
    labels, centroids, _cost = best
    used = [c for c in range(k) if np.any(labels == c)]
    used.sort(key=lambda c: (-int(np.sum(labels == c)), int(np.argmax(labels == c))))
    order = {old: new for new, old in enumerate(used)}
    renumbered: IntVector = np.array([order[int(c)] for c in labels], dtype=np.int64)
    return Grouping(labels=renumbered, centroids=centroids[used])


def silhouette(vectors: FloatMatrix, labels: IntVector) -> float:
    """The mean silhouette under cosine distance (-1 to 1; higher: tighter, better separated
    topics). A point alone in its topic scores 0, as in scikit-learn."""
    return _silhouette(1.0 - vectors @ vectors.T, labels)


def _silhouette(distances: FloatMatrix, labels: IntVector) -> float:
    k = int(labels.max()) + 1
    if k < 2:
        return 0.0
    members = np.eye(k, dtype=np.float32)[labels]  # one-hot, [n, k]
    sizes = members.sum(axis=0)
    sums = distances @ members  # [n, k]: each point's summed distance to each topic
    own = sizes[labels]
    # a: mean distance to the rest of its own topic; b: to the nearest other topic.
    a = sums[np.arange(len(labels)), labels] / np.maximum(own - 1, 1)
    b = np.where(members > 0, np.inf, sums / np.maximum(sizes, 1)).min(axis=1)
    scores = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(scores.mean())


def group(vectors: FloatMatrix, max_topics: int) -> Grouping:
    """Topics of `vectors` (unit rows): between 2 and `max_topics` of them, the count with the
    best silhouette (ties: fewer topics); one topic when there are too few texts to compare."""
    n = len(vectors)
    rng = np.random.default_rng(SEED)
    if n == 0:
        return Grouping(np.zeros(0, dtype=np.int64), np.zeros((0, vectors.shape[1]), np.float32))
    if max_topics < 2 or n < 4:
        return kmeans(vectors, 1, rng=rng)
    sample = np.arange(n)
    if n > SILHOUETTE_SAMPLE:
        sample = np.sort(rng.choice(n, size=SILHOUETTE_SAMPLE, replace=False))
    distances = 1.0 - vectors[sample] @ vectors[sample].T  # once for every k
    best = kmeans(vectors, 2, rng=rng)
    best_score = _silhouette(distances, best.labels[sample])
    for k in range(3, min(max_topics, n - 1) + 1):
        grouping = kmeans(vectors, k, rng=rng)
        score = _silhouette(distances, grouping.labels[sample])
        if score > best_score + 1e-6:
            best, best_score = grouping, score
    return best


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [w for w in _WORD.findall(folded) if w not in STOP_WORDS]


def keywords(texts_by_topic: Sequence[Sequence[str]], *, top: int = KEYWORDS) -> list[list[str]]:
    """Each topic's `top` keywords by class-based TF-IDF: a topic's texts are one document, a
    term weighs its frequency in the topic times log(1 + A / its frequency in all topics), A the
    average number of terms per topic. Terms are stems (knowledge_base.keywords), each shown as
    its most frequent spelling; ties by spelling."""
    counts: list[Counter[str]] = []
    spellings: dict[str, Counter[str]] = {}
    for texts in texts_by_topic:
        topic: Counter[str] = Counter()
        for text in texts:
            for word in _words(text):
                stems = terms(word)
                if not stems:
                    continue
                topic[stems[0]] += 1
                spellings.setdefault(stems[0], Counter())[word] += 1
        counts.append(topic)
    overall: Counter[str] = Counter()
    for topic in counts:
        overall.update(topic)
    average = sum(overall.values()) / max(len(counts), 1)
    found: list[list[str]] = []
    for topic in counts:
        size = max(sum(topic.values()), 1)
        weights = {
            stem: (count / size) * math.log(1.0 + average / overall[stem])
            for stem, count in topic.items()
        }
        shown = [
            min(spellings[stem].items(), key=lambda item: (-item[1], item[0]))[0]
            for stem in sorted(weights, key=lambda s: (-weights[s], s))
        ]
        found.append(list(dict.fromkeys(shown))[:top])
    return found


def representatives(
    vectors: FloatMatrix, centroid: npt.NDArray[np.float32], *, top: int = EXAMPLES
) -> list[tuple[int, float]]:
    """The `top` rows closest to `centroid` by cosine: (row, similarity), closest first (ties:
    the earlier row)."""
    similarity = vectors @ centroid
    order = sorted(range(len(vectors)), key=lambda i: (-float(similarity[i]), i))
    return [(i, float(similarity[i])) for i in order[:top]]
