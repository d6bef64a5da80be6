"""What a local-mode store answers its reads from: the collection's points in numpy.

Qdrant's local mode is a reference implementation in Python: a query evaluates its filter on
every point and scores every sparse vector in a Python loop (about 400 ms per search at 10,000
chunks, measured by benchmarks/kb.py), so in local mode the store keeps a copy of each
collection here, loaded once when it opens and kept in step by its writes, and answers its
reads from it (a few milliseconds). Scores are Qdrant's own: cosine for the dense vectors, and
for the sparse ones the dot product with each term's weight multiplied by Qdrant's IDF,
ln((N - df + 0.5) / (df + 0.5) + 1), N and df counted over the whole collection as Qdrant
counts them. tests/knowledge_base/test_store.py checks both paths give the same answers.

A server needs none of this: its indexes answer quickly, and the store queries it directly."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sentimentops.knowledge_base.keywords import SparseVector


@dataclass(frozen=True)
class Point:
    id: str
    payload: dict[str, Any]
    dense: npt.NDArray[np.float32]  # unit length (cosine = dot product)
    sparse: SparseVector


@dataclass(frozen=True)
class Scored:
    point: Point
    score: float


class _Arrays:
    """The points as arrays, rebuilt after writes, on the next read."""

    def __init__(self, points: list[Point]) -> None:
        self.points = points
        # Fixed-width strings: numpy compares them in C (object arrays call Python per row).
        self.tenants = np.array([p.payload.get("tenant_id") or "" for p in points], dtype=str)
        self.kinds = np.array([p.payload.get("kind") or "" for p in points], dtype=str)
        self.sources = np.array([p.payload.get("source") or "" for p in points], dtype=str)
        self.dense = (
            np.stack([p.dense for p in points]) if points else np.zeros((0, 0), dtype=np.float32)
        )
        rows: dict[int, list[int]] = defaultdict(list)
        weights: dict[int, list[float]] = defaultdict(list)
        for row, point in enumerate(points):
            for term, weight in zip(point.sparse.indices, point.sparse.values, strict=True):
                rows[term].append(row)
                weights[term].append(weight)
        self.postings = {
            term: (np.array(rows[term], dtype=np.int64), np.array(weights[term], dtype=np.float32))
            for term in rows
        }


def _unit(vector: Sequence[float] | npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class LocalIndex:
    """One collection's points (see the module docstring). Not thread-safe: the store's lock
    serialises it with the store's writes."""

    def __init__(self, points: Iterable[Point] = ()) -> None:
        self._points: dict[str, Point] = {p.id: p for p in points}
        self._arrays: _Arrays | None = None

    def __len__(self) -> int:
        return len(self._points)

    def put(self, points: Iterable[Point]) -> None:
        for point in points:
            self._points[point.id] = Point(
                point.id, point.payload, _unit(point.dense), point.sparse
            )
        self._arrays = None

    def remove(self, ids: Iterable[str]) -> None:
        for point_id in ids:
            self._points.pop(point_id, None)
        self._arrays = None

    def _built(self) -> _Arrays:
        if self._arrays is None:
            self._arrays = _Arrays(list(self._points.values()))
        return self._arrays

    def _mask(
        self,
        arrays: _Arrays,
        tenant_id: str | None,
        kinds: Sequence[str] | None,
        sources: Sequence[str] | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Rows of `tenant_id` (None: any), of `kinds` and `sources` when given."""
        mask = np.ones(len(arrays.points), dtype=bool)
        if tenant_id is not None:
            mask &= arrays.tenants == tenant_id
        if kinds:
            mask &= np.isin(arrays.kinds, list(kinds))
        if sources is not None:
            mask &= np.isin(arrays.sources, list(sources))
        return mask

    def select(
        self,
        *,
        tenant_id: str | None,
        kinds: Sequence[str] | None,
        sources: Sequence[str] | None = None,
    ) -> list[Point]:
        arrays = self._built()
        mask = self._mask(arrays, tenant_id, kinds, sources)
        return [arrays.points[i] for i in np.flatnonzero(mask)]

    @staticmethod
    def _top(
        arrays: _Arrays, scores: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], limit: int
    ) -> list[Scored]:
        candidates = np.flatnonzero(mask)
        if len(candidates) == 0:
            return []
        chosen = scores[candidates]
        k = min(limit, len(candidates))
        best = np.argpartition(-chosen, k - 1)[:k]
        best = best[np.argsort(-chosen[best], kind="stable")]
        return [Scored(arrays.points[candidates[i]], float(chosen[i])) for i in best]

    def dense_search(
        self,
        vector: Sequence[float],
        *,
        tenant_id: str | None,
        kinds: Sequence[str] | None,
        limit: int,
    ) -> list[Scored]:
        """The best `limit` points by cosine."""
        arrays = self._built()
        if not arrays.points:
            return []
        # einsum, not `@`: numpy's `@` calls OpenBLAS, whose threads keep spinning after the
        # product and take the cores from ONNX Runtime embedding the next query (measured:
        # search P50 16 ms with `@`, 6 ms with einsum on 2 cores; einsum costs 0.3 ms more).
        scores = np.einsum("ij,j->i", arrays.dense, _unit(vector))
        return self._top(arrays, scores, self._mask(arrays, tenant_id, kinds), limit)

    def sparse_search(
        self,
        vector: SparseVector,
        *,
        tenant_id: str | None,
        kinds: Sequence[str] | None,
        limit: int,
    ) -> list[Scored]:
        """The best `limit` points by IDF-weighted dot product; points sharing no term with the
        query are not answers (as in Qdrant)."""
        arrays = self._built()
        total = len(arrays.points)
        scores = np.zeros(total, dtype=np.float32)
        matched = np.zeros(total, dtype=bool)
        for term, weight in zip(vector.indices, vector.values, strict=True):
            found = arrays.postings.get(term)
            if found is None:
                continue
            rows, values = found
            idf = math.log((total - len(rows) + 0.5) / (len(rows) + 0.5) + 1)
            np.add.at(scores, rows, values * (weight * idf))
            matched[rows] = True
        return self._top(arrays, scores, matched & self._mask(arrays, tenant_id, kinds), limit)
