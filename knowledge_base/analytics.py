"""Semantic analytics over scored texts: the texts most similar to a query, and the topics of a
window's texts with one predicted label. Only tenants that store prediction texts have any
(inference/prediction_log.py); the flows refuse the others.

The prediction log (the database) is the truth; the Qdrant collection `scored_texts` caches
its texts' MiniLM vectors, one point per logged text, with the tenant id and the prediction id
in the payload (never the text). A call reads its window's rows from the database, embeds the
rows that have no point yet (so only new rows are ever embedded) and reads the rest from the
cache. Answers are built from the rows read, so a row deleted from the log (retention) never
appears, and its point is deleted too: points older than the tenant's oldest logged text go on
every call, and a call that read its whole window deletes the window's points without a row.

Tenant isolation lives here, as in store.py: every query and deletion on the collection carries
a tenant filter built from the tenant id the flow passes (the caller's principal's), and the
rows it may return come from the same tenant's database query.

In local mode Qdrant locks its folder for one client, so the collection has its own folder,
data_dir/qdrant-scored-texts, beside the knowledge base's (whose client the knowledge base's
process holds); a Qdrant server (settings.qdrant_url) holds it beside the knowledge base's
collections."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.conversions.common_types import PointId
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from sentimentops.core.settings import Settings
from sentimentops.identity.keys import as_utc
from sentimentops.inference.models import PredictionRecord
from sentimentops.knowledge_base import topics as topic_model
from sentimentops.knowledge_base.analytics_schemas import (
    ScoredText,
    SimilarText,
    Topic,
    TopicExample,
)
from sentimentops.knowledge_base.embedding import DIMENSIONS, Embedder, FloatMatrix
from sentimentops.knowledge_base.store import StoreUnavailable

COLLECTION = "scored_texts"
DENSE = "dense"
LOCAL_FOLDER = "qdrant-scored-texts"
# Point ids are uuid5 names under this namespace: the tenant, the prediction id and the text's
# hash, so a point made from another database's row 17 never stands for this one's.
POINT_NAMESPACE = uuid.UUID("5d0c3a57-8f41-4c2e-b7a9-2f64e1c0a8d3")
UPSERT_BATCH = 256
SCROLL_PAGE = 1024


@dataclass(frozen=True)
class Window:
    """The rows of the prediction log one call works on: the tenant's texts scored since
    `since` (of `task` and with `label` where given), newest first. `complete`: every such row
    is in `rows` (else only the newest that one call may read). `oldest`: the tenant's oldest
    logged text, whatever the window (None: it has none)."""

    tenant_id: str
    since: datetime
    task: str | None
    label: str | None
    rows: list[ScoredText]
    complete: bool
    oldest: datetime | None


def read_window(
    session: Session,
    *,
    tenant_id: str,
    since: datetime,
    task: str | None,
    label: str | None,
    limit: int,
) -> Window:
    """The window of `tenant_id`'s logged texts since `since` (at most `limit` rows)."""
    query = (
        select(PredictionRecord)
        .where(*_in_window(tenant_id, since, task, label))
        .order_by(PredictionRecord.created_at.desc(), PredictionRecord.id.desc())
    )
    records = list(session.execute(query.limit(limit + 1)).scalars())
    oldest = session.execute(
        select(func.min(PredictionRecord.created_at)).where(
            PredictionRecord.tenant_id == tenant_id, PredictionRecord.text.is_not(None)
        )
    ).scalar()
    return Window(
        tenant_id=tenant_id,
        since=since,
        task=task,
        label=label,
        rows=[_scored(r) for r in records[:limit]],
        complete=len(records) <= limit,
        oldest=None if oldest is None else as_utc(oldest),
    )


def count_window(window: Window, session: Session) -> int:
    """How many rows the whole window holds (when it is not `complete`)."""
    conditions = _in_window(window.tenant_id, window.since, window.task, window.label)
    return int(session.execute(select(func.count()).where(*conditions)).scalar_one())


def _in_window(
    tenant_id: str, since: datetime, task: str | None, label: str | None
) -> list[ColumnElement[bool]]:
    conditions = [
        PredictionRecord.tenant_id == tenant_id,
        PredictionRecord.text.is_not(None),
        PredictionRecord.created_at >= since,
    ]
    if task is not None:
        conditions.append(PredictionRecord.task == task)
    if label is not None:
        conditions.append(PredictionRecord.label == label)
    return conditions


def _scored(record: PredictionRecord) -> ScoredText:
    return ScoredText(
        prediction_id=record.id,
        text=record.text or "",
        task=record.task,
        label=record.label,
        probability=record.probability,
        model_name=record.model_name,
        model_version=record.model_version,
        created_at=as_utc(record.created_at),
    )


def point_id(tenant_id: str, row: ScoredText) -> str:
    sha = hashlib.sha256(row.text.encode()).hexdigest()
    return str(uuid.uuid5(POINT_NAMESPACE, f"{tenant_id}\x00{row.prediction_id}\x00{sha}"))


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _tenant(tenant_id: str) -> list[models.Condition]:
    if not tenant_id:
        raise ValueError("scored texts are searched for one tenant, named by the caller's id")
    return [_match("tenant_id", tenant_id)]


class ScoredTextIndex:
    """The `scored_texts` collection behind one lock (local mode's client is not thread-safe,
    and two calls embedding the same rows at once would do the work twice)."""

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        self._lock = threading.RLock()
        if not client.collection_exists(COLLECTION):
            client.create_collection(
                COLLECTION,
                vectors_config={
                    DENSE: models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)
                },
            )
            if not local:  # local mode scans anyway (and warns that indexes do nothing there)
                client.create_payload_index(
                    COLLECTION, "tenant_id", models.PayloadSchemaType.KEYWORD
                )
                client.create_payload_index(
                    COLLECTION, "created_at", models.PayloadSchemaType.FLOAT
                )

    @classmethod
    def open(cls, settings: Settings) -> ScoredTextIndex:
        """The configured index: the Qdrant server of settings.qdrant_url, else local mode in
        data_dir/qdrant-scored-texts. StoreUnavailable when another process holds that folder."""
        if settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return cls(QdrantClient(url=settings.qdrant_url, api_key=key), local=False)
        path = settings.data_dir / LOCAL_FOLDER
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:  # local mode's folder lock
            raise StoreUnavailable(
                f"the scored-text index in {path} is open in another process (local mode allows "
                "one); ask that process, or set SENTIMENTOPS_QDRANT_URL to share a server"
            ) from exc
        return cls(client, local=True)

    @classmethod
    def in_memory(cls) -> ScoredTextIndex:
        """A throwaway index (nothing cached between processes)."""
        return cls(QdrantClient(location=":memory:"), local=True)

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def vectors(
        self, tenant_id: str, rows: Sequence[ScoredText], embedder: Embedder
    ) -> FloatMatrix:
        """The rows' unit vectors in row order; rows with no point yet are embedded and get
        one. Every vector is read back from the collection,
        so a row's vector is the same whether it was embedded now or before (Qdrant normalises
        cosine vectors as it stores them, which can move the last bits)."""
        ids = [point_id(tenant_id, row) for row in rows]
        with self._lock:
            stored = self._stored(ids)
            missing = [i for i, pid in enumerate(ids) if pid not in stored]
            if missing:
                new = [rows[i] for i in missing]
                vectors = embedder.embed([row.text for row in new])
                self._upsert(tenant_id, new, vectors, [ids[i] for i in missing])
                stored.update(self._stored([ids[i] for i in missing]))
        result = np.zeros((len(rows), DIMENSIONS), dtype=np.float32)
        for i, pid in enumerate(ids):
            result[i] = stored[pid]
        return result

    def _stored(self, ids: Sequence[str]) -> dict[str, FloatMatrix]:
        """The dense vectors of the points among `ids` that exist."""
        found: dict[str, FloatMatrix] = {}
        for start in range(0, len(ids), SCROLL_PAGE):
            page = ids[start : start + SCROLL_PAGE]
            for record in self._client.retrieve(COLLECTION, page, with_vectors=[DENSE]):
                vector = record.vector.get(DENSE) if isinstance(record.vector, dict) else None
                if isinstance(vector, list):  # the dense vector: a list of floats
                    found[str(record.id)] = np.asarray(vector, dtype=np.float32)
        return found

    def _upsert(
        self,
        tenant_id: str,
        rows: Sequence[ScoredText],
        vectors: FloatMatrix,
        ids: Sequence[str],
    ) -> None:
        for start in range(0, len(rows), UPSERT_BATCH):
            points = [
                models.PointStruct(
                    id=ids[j],
                    vector={DENSE: vectors[j].tolist()},
                    payload={
                        "tenant_id": tenant_id,
                        "prediction_id": rows[j].prediction_id,
                        "task": rows[j].task,
                        "label": rows[j].label,
                        "created_at": rows[j].created_at.timestamp(),
                    },
                )
                for j in range(start, min(start + UPSERT_BATCH, len(rows)))
            ]
            self._client.upsert(COLLECTION, points=points, wait=True)

    def nearest(
        self, tenant_id: str, vector: Sequence[float], rows: Sequence[ScoredText], limit: int
    ) -> list[tuple[ScoredText, float]]:
        """The `limit` rows (all with points) nearest `vector` by cosine, nearest first."""
        by_id = {point_id(tenant_id, row): row for row in rows}
        if not by_id:
            return []
        only = models.Filter(must=[*_tenant(tenant_id), models.HasIdCondition(has_id=list(by_id))])
        with self._lock:
            found = self._client.query_points(
                COLLECTION,
                query=list(vector),
                using=DENSE,
                query_filter=only,
                limit=limit,
                with_payload=False,
            )
        return [(by_id[str(p.id)], float(p.score)) for p in found.points if str(p.id) in by_id]

    def forget(self, window: Window) -> int:
        """Delete the tenant's points whose rows are gone: those older than its oldest logged
        text, and, when `window` holds every row of its span, the span's points without a row.
        How many were deleted."""
        gone: list[PointId] = []
        tenant = _tenant(window.tenant_id)
        with self._lock:
            if window.oldest is None:
                old = models.Filter(must=tenant)
            else:
                before = models.Range(lt=window.oldest.timestamp())
                old = models.Filter(
                    must=[*tenant, models.FieldCondition(key="created_at", range=before)]
                )
            gone.extend(self._ids(old))
            if window.complete:
                span: list[models.Condition] = [
                    *tenant,
                    models.FieldCondition(
                        key="created_at", range=models.Range(gte=window.since.timestamp())
                    ),
                ]
                if window.task is not None:
                    span.append(_match("task", window.task))
                if window.label is not None:
                    span.append(_match("label", window.label))
                kept = {point_id(window.tenant_id, row) for row in window.rows}
                gone.extend(i for i in self._ids(models.Filter(must=span)) if str(i) not in kept)
            unique = list(dict.fromkeys(gone))
            if unique:
                self._client.delete(
                    COLLECTION, points_selector=models.PointIdsList(points=unique), wait=True
                )
        return len(unique)

    def _ids(self, query_filter: models.Filter) -> list[PointId]:
        ids: list[PointId] = []
        offset: PointId | None = None
        while True:
            page, offset = self._client.scroll(
                COLLECTION,
                scroll_filter=query_filter,
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.extend(record.id for record in page)
            if offset is None:
                return ids

    def count(self, tenant_id: str) -> int:
        """The tenant's points."""
        with self._lock:
            found = self._client.count(
                COLLECTION, count_filter=models.Filter(must=_tenant(tenant_id)), exact=True
            )
        return int(found.count)


class TextAnalytics:
    """The process's scored-text analytics: the index, opened on first use, and the encoder
    (the knowledge base's, asked for when first needed). `index` replaces the one the settings
    name (tests, and the CLI while the platform holds the local folder)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Callable[[], Embedder],
        index: ScoredTextIndex | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._lock = threading.Lock()

    def index(self) -> ScoredTextIndex:
        with self._lock:
            if self._index is None:
                self._index = ScoredTextIndex.open(self.settings)
            return self._index

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    def _cached(self, window: Window) -> FloatMatrix:
        """The window's vectors, its new rows embedded and the points of gone rows deleted."""
        index = self.index()
        vectors = index.vectors(window.tenant_id, window.rows, self._embedder())
        index.forget(window)
        return vectors

    def similar(self, window: Window, *, query: str, limit: int) -> list[SimilarText]:
        """The window's texts most similar to `query`, most similar first."""
        self._cached(window)  # the query below compares with the stored points
        [vector] = self._embedder().embed([query])
        nearest = self.index().nearest(window.tenant_id, vector.tolist(), window.rows, limit)
        return [
            SimilarText(**row.model_dump(), similarity=round(score, 6)) for row, score in nearest
        ]

    def topics(self, window: Window, *, max_topics: int) -> list[Topic]:
        """The window's texts grouped into at most `max_topics` topics, largest first. The rows
        are taken oldest first, so the same window always groups the same way."""
        rows = sorted(window.rows, key=lambda r: (r.created_at, r.prediction_id))
        if not rows:
            return []
        vectors = self._cached(dataclasses.replace(window, rows=rows))
        grouping = topic_model.group(vectors, max_topics)
        members = [np.flatnonzero(grouping.labels == t) for t in range(len(grouping.centroids))]
        keywords = topic_model.keywords([[rows[i].text for i in m] for m in members])
        found: list[Topic] = []
        for t, indices in enumerate(members):
            closest = topic_model.representatives(vectors[indices], grouping.centroids[t])
            found.append(
                Topic(
                    size=len(indices),
                    share=round(len(indices) / len(rows), 6),
                    keywords=keywords[t],
                    examples=[
                        TopicExample(
                            **rows[int(indices[i])].model_dump(), similarity=round(score, 6)
                        )
                        for i, score in closest
                    ],
                )
            )
        return found
