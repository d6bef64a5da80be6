"""The topic model's parts on made-up vectors and texts: k-means finds planted groups the same
way every time, the silhouette is scikit-learn's, keywords are what sets a topic apart, and the
representatives are the texts nearest the centre."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from sentimentops.knowledge_base import topics


def _blobs(sizes: list[int], *, spread: float, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors scattered around len(sizes) random directions in 384 dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 384))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    points = centres[truth] + spread * rng.normal(size=(len(truth), 384))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), truth


def _same_partition(found: np.ndarray, truth: np.ndarray) -> bool:
    pairs = {(int(f), int(t)) for f, t in zip(found, truth, strict=True)}
    return len(pairs) == len(set(found.tolist())) == len(set(truth.tolist()))


def test_group_finds_the_planted_number_of_topics_largest_first() -> None:
    vectors, truth = _blobs([30, 12, 20], spread=0.5)
    grouping = topics.group(vectors, max_topics=8)
    assert _same_partition(grouping.labels, truth)
    assert np.bincount(grouping.labels).tolist() == [30, 20, 12]
    assert np.allclose(np.linalg.norm(grouping.centroids, axis=1), 1.0, atol=1e-5)
    again = topics.group(vectors, max_topics=8)
    assert np.array_equal(again.labels, grouping.labels)
    assert np.array_equal(again.centroids, grouping.centroids)


def test_group_respects_max_topics_and_small_inputs() -> None:
    vectors, _truth = _blobs([10, 10, 10, 10], spread=0.3)
    assert int(topics.group(vectors, max_topics=2).labels.max()) == 1
    assert topics.group(vectors, max_topics=1).labels.tolist() == [0] * 40
    assert topics.group(vectors[:3], max_topics=12).labels.tolist() == [0, 0, 0]
    assert topics.group(vectors[:0], max_topics=12).labels.tolist() == []


def test_silhouette_is_scikit_learns_under_cosine() -> None:
    vectors, truth = _blobs([15, 9, 6], spread=1.5)
    labels = truth.copy()
    labels[[0, 20]] = 2  # some misplaced points, and a topic of one
    labels[29] = 3
    expected = silhouette_score(vectors, labels, metric="cosine")
    assert topics.silhouette(vectors, labels) == pytest.approx(expected, abs=1e-5)


def test_keywords_are_what_sets_each_topic_apart() -> None:
    delays = ["The flight was delayed again", "Delays and more delays at the gate", "flight late"]
    staff = ["Rude staff at the gate", "The staff were rude to my father", "rude crew"]
    # "delayed" and "delays" are one term, shown as its commoner spelling; "gate" is in both
    # topics, so it weighs less than words as frequent that only one topic has ("late").
    assert topics.keywords([delays, staff], top=3) == [
        ["delays", "flight", "late"],
        ["rude", "staff", "crew"],
    ]


def test_representatives_are_the_nearest_to_the_centre() -> None:
    centre = np.array([1.0, 0.0], dtype=np.float32)
    vectors = np.array([[0.0, 1.0], [0.8, 0.6], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    found = topics.representatives(vectors, centre, top=3)
    assert [i for i, _ in found] == [2, 1, 3]
    assert [round(s, 3) for _, s in found] == [1.0, 0.8, 0.6]
