"""The vector store: Qdrant, in local mode under data_dir/qdrant by default, or a Qdrant server
(settings.qdrant_url).

Two collections: `kb_platform` holds the platform's own documents (docs/, model cards, run
metadata), which every tenant reads and none writes; `kb_tenants` holds every tenant's chunks,
each with its `tenant_id` in the payload. Each point has a dense vector (MiniLM, cosine) and a
sparse keyword vector (knowledge_base/keywords.py, IDF applied by Qdrant).

Tenant isolation lives here: `search` takes the caller's tenant id and builds the `tenant_id`
filter of every query on `kb_tenants` itself; no function takes a filter from its caller.

Re-indexing is incremental: a point's id is derived from its tenant, source, position and
content hash, so `sync` embeds only chunks whose id is not stored yet and deletes the ids of
its scope that the new documents no longer produce (no orphans).

Local mode locks its folder: one client per folder per machine, held by one process (see
docs/knowledge_base.md for which process that is). One store object per process, therefore;
its lock serialises the client, which local mode does not make thread-safe. Local mode's own
reads loop over every point in Python; a local store answers its reads from a copy of the
points in numpy instead (knowledge_base/local_index.py), a server store from the server."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.conversions.common_types import PointId

from sentimentops.core.errors import ServiceUnavailable
from sentimentops.core.knowledge import KB_KINDS, KbKind
from sentimentops.core.settings import Settings
from sentimentops.knowledge_base.chunking import Chunk
from sentimentops.knowledge_base.embedding import DIMENSIONS, Embedder, Progress
from sentimentops.knowledge_base.keywords import SparseVector, document_vector
from sentimentops.knowledge_base.local_index import LocalIndex, Point

PLATFORM = "kb_platform"
TENANTS = "kb_tenants"
COLLECTIONS = (PLATFORM, TENANTS)
DENSE = "dense"
SPARSE = "sparse"
# Point ids are uuid5 names under this namespace (stable across machines and versions).
POINT_NAMESPACE = uuid.UUID("9b0a4a5e-3f7e-4b8e-9a55-6b1f2c0d7e11")
UPSERT_BATCH = 256
SCROLL_PAGE = 1024

Mode = Literal["dense", "sparse"]


class StoreUnavailable(ServiceUnavailable):
    """Qdrant could not be opened (another process holds the local folder, or no server)."""


@dataclass(frozen=True)
class Scope:
    """The part of the store a sync owns: the kinds of one tenant (None: the platform), or only
    the named sources among them. Stored points of the scope that a sync does not produce are
    deleted."""

    tenant_id: str | None
    kinds: tuple[KbKind, ...]
    sources: tuple[str, ...] | None = None

    @property
    def collection(self) -> str:
        return PLATFORM if self.tenant_id is None else TENANTS


@dataclass(frozen=True)
class SyncResult:
    sources: int
    chunks: int
    embedded: int
    deleted: int


@dataclass(frozen=True)
class Found:
    """A point a query returned: its payload and its score in that query."""

    id: str
    score: float
    payload: dict[str, Any]


def point_id(chunk: Chunk) -> str:
    name = "\x00".join(
        (chunk.tenant_id or "", chunk.source, str(chunk.index), chunk.content_sha256)
    )
    return str(uuid.uuid5(POINT_NAMESPACE, name))


def _payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "source": chunk.source,
        "kind": chunk.kind,
        "tenant_id": chunk.tenant_id,
        "title": chunk.title,
        "heading_path": list(chunk.heading_path),
        "text": chunk.text,
        "chunk_index": chunk.index,
        "version": chunk.version,
        "url": chunk.url,
        "content_sha256": chunk.content_sha256,
    }


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _any(key: str, values: Iterable[str]) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))


def _scope_filter(scope: Scope) -> models.Filter:
    must: list[models.Condition] = [_any("kind", scope.kinds)]
    if scope.tenant_id is not None:
        must.append(_match("tenant_id", scope.tenant_id))
    if scope.sources is not None:
        must.append(_any("source", scope.sources))
    return models.Filter(must=must)


def tenant_condition(collection: str, tenant_id: str | None) -> str | None:
    """The tenant every read of `collection` for `tenant_id` is restricted to: that tenant in
    kb_tenants (whatever else is asked), none in kb_platform."""
    if collection != TENANTS:
        return None
    if not tenant_id:
        raise ValueError("a tenant search needs the caller's tenant id")
    return tenant_id


def tenant_filter(
    collection: str, tenant_id: str | None, kinds: Sequence[KbKind] | None
) -> models.Filter:
    """The Qdrant filter of every query on `collection` for `tenant_id` (tenant_condition),
    with the chosen kinds."""
    must: list[models.Condition] = []
    tenant = tenant_condition(collection, tenant_id)
    if tenant is not None:
        must.append(_match("tenant_id", tenant))
    if kinds:
        must.append(_any("kind", kinds))
    return models.Filter(must=must)


class KnowledgeStore:
    """The two collections behind one lock (see the module docstring)."""

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        self._local = local
        self._lock = threading.RLock()
        self._ensure_collections()
        self._indexes: dict[str, LocalIndex] = (
            {name: LocalIndex(self._load(name)) for name in COLLECTIONS} if local else {}
        )

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeStore:
        """The configured store: the server at settings.qdrant_url, else local mode in
        data_dir/qdrant. StoreUnavailable when another process holds the local folder."""
        if settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return cls(QdrantClient(url=settings.qdrant_url, api_key=key), local=False)
        path = settings.data_dir / "qdrant"
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:  # local mode's folder lock
            raise StoreUnavailable(
                f"the knowledge base in {path} is open in another process (local mode allows "
                "one); ask that process, or set SENTIMENTOPS_QDRANT_URL to share a server"
            ) from exc
        return cls(client, local=True)

    @property
    def local(self) -> bool:
        return self._local

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _ensure_collections(self) -> None:
        with self._lock:
            for name in COLLECTIONS:
                if self._client.collection_exists(name):
                    continue
                self._client.create_collection(
                    name,
                    vectors_config={
                        DENSE: models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
                if not self._local:
                    # A server filters every tenant query on these; local mode scans anyway
                    # (and warns that payload indexes do nothing there).
                    for field in ("tenant_id", "kind", "source"):
                        self._client.create_payload_index(
                            name, field, models.PayloadSchemaType.KEYWORD
                        )

    def _scroll(
        self,
        collection: str,
        query_filter: models.Filter | None,
        fields: Sequence[str] | bool,
        *,
        vectors: bool = False,
    ) -> list[models.Record]:
        records: list[models.Record] = []
        offset: PointId | None = None
        while True:
            with self._lock:
                page, offset = self._client.scroll(
                    collection,
                    scroll_filter=query_filter,
                    limit=SCROLL_PAGE,
                    offset=offset,
                    with_payload=fields if isinstance(fields, bool) else list(fields),
                    with_vectors=vectors,
                )
            records.extend(page)
            if offset is None:
                return records

    def _load(self, collection: str) -> list[Point]:
        """Every point of a collection, for its local index."""
        points = []
        for record in self._scroll(collection, None, True, vectors=True):
            vector = record.vector if isinstance(record.vector, dict) else {}
            dense, sparse = vector.get(DENSE), vector.get(SPARSE)
            if not isinstance(dense, list) or not isinstance(sparse, models.SparseVector):
                raise ValueError(f"point {record.id} of {collection} lacks its vectors")
            points.append(
                Point(
                    id=str(record.id),
                    payload=dict(record.payload or {}),
                    dense=np.asarray(dense, dtype=np.float32),
                    sparse=SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                )
            )
        return points

    def _stored(self, scope: Scope) -> dict[str, str]:
        """Point id → source of the scope's stored points."""
        if self._local:
            with self._lock:
                selected = self._indexes[scope.collection].select(
                    tenant_id=scope.tenant_id, kinds=scope.kinds, sources=scope.sources
                )
            return {p.id: str(p.payload.get("source")) for p in selected}
        records = self._scroll(scope.collection, _scope_filter(scope), ("source",))
        return {str(r.id): str((r.payload or {}).get("source")) for r in records}

    def sync(
        self,
        scope: Scope,
        chunks: Sequence[Chunk],
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        batch_size: int = 64,
    ) -> SyncResult:
        """Make the scope hold exactly `chunks`: embed and store those not stored yet, delete
        the scope's points no chunk produces."""
        for chunk in chunks:
            in_scope = chunk.kind in scope.kinds and chunk.tenant_id == scope.tenant_id
            if not in_scope or (scope.sources is not None and chunk.source not in scope.sources):
                raise ValueError(f"chunk of {chunk.source} ({chunk.kind}) is outside the scope")
        stored = set(self._stored(scope))
        wanted = {point_id(c): c for c in chunks}
        new = [c for pid, c in wanted.items() if pid not in stored]
        vectors = embedder.embed(
            [c.embedded for c in new], batch_size=batch_size, progress=progress
        )
        for start in range(0, len(new), UPSERT_BATCH):
            batch = [
                Point(point_id(c), _payload(c), vectors[start + i], document_vector(c.embedded))
                for i, c in enumerate(new[start : start + UPSERT_BATCH])
            ]
            points = [
                models.PointStruct(
                    id=p.id,
                    vector={DENSE: p.dense.tolist(), SPARSE: _sparse(p.sparse)},
                    payload=p.payload,
                )
                for p in batch
            ]
            with self._lock:
                self._client.upsert(scope.collection, points=points, wait=True)
                if self._local:
                    self._indexes[scope.collection].put(batch)
        gone = sorted(stored - wanted.keys())
        if gone:
            with self._lock:
                self._client.delete(
                    scope.collection, points_selector=models.PointIdsList(points=gone), wait=True
                )
                if self._local:
                    self._indexes[scope.collection].remove(gone)
        return SyncResult(
            sources=len({c.source for c in chunks}),
            chunks=len(chunks),
            embedded=len(new),
            deleted=len(gone),
        )

    def query(
        self,
        *,
        tenant_id: str | None,
        dense: Sequence[float],
        sparse: SparseVector,
        limit: int,
        kinds: Sequence[KbKind] | None = None,
    ) -> dict[Mode, list[Found]]:
        """The best `limit` points by meaning and by keywords, over the platform's documents
        and `tenant_id`'s own (None: the platform's only), each list ordered by its own score
        (comparable across the two collections: cosine, and BM25 with each collection's IDF)."""
        found: dict[Mode, list[Found]] = {"dense": [], "sparse": []}
        for collection in COLLECTIONS if tenant_id is not None else (PLATFORM,):
            if self._local:
                tenant = tenant_condition(collection, tenant_id)
                with self._lock:
                    index = self._indexes[collection]
                    dense_found = index.dense_search(
                        dense, tenant_id=tenant, kinds=kinds, limit=limit
                    )
                    sparse_found = index.sparse_search(
                        sparse, tenant_id=tenant, kinds=kinds, limit=limit
                    )
                for mode, scored in (("dense", dense_found), ("sparse", sparse_found)):
                    found[mode].extend(  # type: ignore[index]
                        Found(s.point.id, s.score, s.point.payload) for s in scored
                    )
                continue
            query_filter = tenant_filter(collection, tenant_id, kinds)
            requests = [
                models.QueryRequest(
                    query=list(dense),
                    using=DENSE,
                    filter=query_filter,
                    limit=limit,
                    with_payload=True,
                ),
                models.QueryRequest(
                    query=_sparse(sparse),
                    using=SPARSE,
                    filter=query_filter,
                    limit=limit,
                    with_payload=True,
                ),
            ]
            with self._lock:
                dense_hits, sparse_hits = self._client.query_batch_points(collection, requests)
            for mode, hits in (("dense", dense_hits), ("sparse", sparse_hits)):
                found[mode].extend(  # type: ignore[index]
                    Found(str(p.id), float(p.score), dict(p.payload or {})) for p in hits.points
                )
        return {mode: sorted(hits, key=lambda f: -f.score)[:limit] for mode, hits in found.items()}

    def _counts(self, collection: str, tenant_id: str | None) -> dict[str, int]:
        if self._local:
            with self._lock:
                points = self._indexes[collection].select(tenant_id=tenant_id, kinds=KB_KINDS)
            return dict(Counter(str(p.payload.get("kind")) for p in points))
        records = self._scroll(
            collection, tenant_filter(collection, tenant_id, KB_KINDS), ("kind",)
        )
        return dict(Counter(str((r.payload or {}).get("kind")) for r in records))

    def platform_counts(self) -> dict[str, int]:
        """Chunks per kind of the platform's documents."""
        return self._counts(PLATFORM, None)

    def tenant_counts(self, tenant_id: str) -> dict[str, int]:
        """Chunks per kind of one tenant."""
        return self._counts(TENANTS, tenant_condition(TENANTS, tenant_id))

    def sources(self, scope: Scope) -> dict[str, int]:
        """The scope's stored sources with their chunk counts."""
        return dict(Counter(self._stored(scope).values()))
