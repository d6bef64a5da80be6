"""Retrieval and indexing over the store: hybrid search (dense + keywords, fused by reciprocal
rank) with an optional re-ranking step, and the sync of documents into chunks.

Fusion is ours rather than one Qdrant FusionQuery: a search reads two collections (the
platform's documents and the caller's tenant's), and a per-collection fusion would rank each
collection's best chunk first whatever its relevance; so each collection answers a dense and a
keyword query, the dense lists merge by cosine and the keyword lists by BM25, and reciprocal rank
fusion (RRF, k = 60) joins the two merged lists.

The re-ranking step adds to each fused candidate's score a small bonus for the share of the
query's terms its heading path holds (benchmarks/kb.py measures what it adds): headings are
what people name when they ask ("how do I roll back" → "Rolling back a model")."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from sentimentops.core.knowledge import KbHit, KbKind
from sentimentops.knowledge_base.chunking import SourceDocument, chunk_document
from sentimentops.knowledge_base.embedding import Embedder, Progress
from sentimentops.knowledge_base.keywords import query_vector, terms
from sentimentops.knowledge_base.store import Found, KnowledgeStore, Scope, SyncResult

Retrieval = Literal["dense", "sparse", "hybrid"]
RRF_K = 60
# Candidates each of the dense and keyword queries brings (per collection) before fusion.
CANDIDATES = 30
# Re-ranking: the fused score plus this much per share of query terms found in the headings:
# at most about a third of what a first place in one list adds (1 / 61). Chosen on
# benchmarks/kb_eval.json (0.005 beat 0.01-0.03 and none on recall@1, recall@5 and MRR).
HEADING_WEIGHT = 0.005
MAX_QUERY_CHARS = 500
MAX_LIMIT = 20


@dataclass(frozen=True)
class _Scored:
    found: Found
    score: float


def fuse(lists: Sequence[Sequence[Found]], *, k: int = RRF_K) -> list[_Scored]:
    """Reciprocal rank fusion: each point scores the sum of 1 / (k + rank) over the lists."""
    scores: dict[str, float] = {}
    first: dict[str, Found] = {}
    for ranked in lists:
        for rank, found in enumerate(ranked, start=1):
            scores[found.id] = scores.get(found.id, 0.0) + 1.0 / (k + rank)
            first.setdefault(found.id, found)
    return sorted((_Scored(first[i], s) for i, s in scores.items()), key=lambda s: -s.score)


@lru_cache(maxsize=4096)
def _heading_terms(heading: str) -> frozenset[str]:
    # Cached: every search re-ranks dozens of candidates, and headings repeat across chunks.
    return frozenset(terms(heading))


def heading_overlap(query_terms: set[str], heading_path: Sequence[str]) -> float:
    """The share of the query's terms that the heading path holds."""
    if not query_terms:
        return 0.0
    in_headings = _heading_terms(" ".join(heading_path))
    return len(query_terms & in_headings) / len(query_terms)


def _hit(scored: _Scored) -> KbHit:
    payload = scored.found.payload
    return KbHit(
        source=str(payload["source"]),
        url=payload.get("url"),
        title=str(payload.get("title") or payload["source"]),
        heading_path=[str(h) for h in payload.get("heading_path") or []],
        kind=payload["kind"],
        tenant_id=payload.get("tenant_id"),
        version=payload.get("version"),
        score=round(scored.score, 6),
        text=str(payload.get("text") or ""),
    )


class KnowledgeService:
    """Search and sync over one store with one encoder; implements core.knowledge's
    KnowledgeSearch."""

    def __init__(self, store: KnowledgeStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def search_sync(
        self,
        *,
        tenant_id: str | None,
        query: str,
        limit: int = 5,
        kinds: Sequence[KbKind] | None = None,
        retrieval: Retrieval = "hybrid",
        rerank: bool = True,
    ) -> list[KbHit]:
        """The best `limit` chunks for `query` among the platform's and `tenant_id`'s (None:
        the platform's only)."""
        query = query.strip()[:MAX_QUERY_CHARS]
        limit = max(1, min(limit, MAX_LIMIT))
        if not query:
            return []
        [vector] = self.embedder.embed([query])
        wanted = max(CANDIDATES, limit)
        found = self.store.query(
            tenant_id=tenant_id,
            dense=vector.tolist(),
            sparse=query_vector(query),
            limit=wanted,
            kinds=kinds,
        )
        if retrieval == "dense":
            ranked = [_Scored(f, f.score) for f in found["dense"]]
        elif retrieval == "sparse":
            ranked = [_Scored(f, f.score) for f in found["sparse"]]
        else:
            ranked = fuse([found["dense"], found["sparse"]])
        if rerank:
            query_terms = set(terms(query))
            ranked = sorted(
                (
                    _Scored(
                        s.found,
                        s.score
                        + HEADING_WEIGHT
                        * heading_overlap(query_terms, s.found.payload.get("heading_path") or []),
                    )
                    for s in ranked
                ),
                key=lambda s: -s.score,
            )
        return [_hit(s) for s in ranked[:limit]]

    async def search(
        self,
        *,
        tenant_id: str | None,
        query: str,
        limit: int = 5,
        kinds: tuple[KbKind, ...] | None = None,
    ) -> list[KbHit]:
        return await asyncio.to_thread(
            self.search_sync, tenant_id=tenant_id, query=query, limit=limit, kinds=kinds
        )

    def sync(
        self,
        scope: Scope,
        documents: Sequence[SourceDocument],
        *,
        progress: Progress | None = None,
    ) -> SyncResult:
        """Make `scope` hold exactly the chunks of `documents` (see KnowledgeStore.sync)."""
        chunks = [c for d in documents for c in chunk_document(d)]
        return self.store.sync(scope, chunks, self.embedder, progress=progress)
