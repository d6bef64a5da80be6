"""The local store answers its reads from numpy (knowledge_base/local_index.py): the same points
and scores as Qdrant's own query path, on the same client, tenant filter included."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from sentimentops.core.knowledge import KbKind
from sentimentops.knowledge_base import sources
from sentimentops.knowledge_base.chunking import SourceDocument, chunk_document
from sentimentops.knowledge_base.embedding import Encoder
from sentimentops.knowledge_base.keywords import query_vector
from sentimentops.knowledge_base.store import Found, KnowledgeStore, Scope

QUERIES = (
    "how do I roll back sentiment",
    "approval of an agent's plan hash",
    "Kestrel outage tokenizer",
    "zzzz no such words qqqq",
)


def _tenant_docs(tenant: str) -> list[SourceDocument]:
    return [
        SourceDocument(
            source=f"upload:{tenant}-{i}",
            kind="upload",
            title=f"{tenant} note {i}",
            text=f"# Note {i}\n{tenant} keeps runbook {i}: the Kestrel outage, tokenizer pins.",
            tenant_id=tenant,
        )
        for i in range(3)
    ]


def _summary(found: list[Found]) -> list[tuple[str, float]]:
    return sorted((f.id, round(f.score, 4)) for f in found)


@pytest.mark.parametrize("tenant", ["t1", "t2", None])
@pytest.mark.parametrize("kinds", [None, ("upload",), ("doc", "upload")])
def test_the_local_index_answers_like_qdrant(
    tmp_path_factory: pytest.TempPathFactory,
    encoder: Encoder,
    tenant: str | None,
    kinds: tuple[KbKind, ...] | None,
) -> None:
    client = QdrantClient(path=str(tmp_path_factory.mktemp("kb") / "qdrant"))
    local = KnowledgeStore(client, local=True)
    docs = sources.platform_docs()[:4]
    local.sync(sources.DOCS_SCOPE, [c for d in docs for c in chunk_document(d)], encoder)
    for owner in ("t1", "t2"):
        chunks = [c for d in _tenant_docs(owner) for c in chunk_document(d)]
        local.sync(Scope(tenant_id=owner, kinds=("upload",)), chunks, encoder)
    # Qdrant's own query path over the same client and points.
    server_path = KnowledgeStore(client, local=False)
    for query in QUERIES:
        [vector] = encoder.embed([query])
        ask = {
            "tenant_id": tenant,
            "dense": vector.tolist(),
            "sparse": query_vector(query),
            "limit": 8,
            "kinds": kinds,
        }
        mine, qdrant = local.query(**ask), server_path.query(**ask)
        for mode in ("dense", "sparse"):
            assert _summary(mine[mode]) == _summary(qdrant[mode]), (query, mode)
            owners = {f.payload.get("tenant_id") for f in mine[mode]}
            assert owners <= {tenant, None}
    client.close()


def test_a_reopened_store_reads_what_was_written(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> None:
    path = str(tmp_path_factory.mktemp("kb") / "qdrant")
    first = KnowledgeStore(QdrantClient(path=path), local=True)
    chunks = [c for d in _tenant_docs("t1") for c in chunk_document(d)]
    first.sync(Scope(tenant_id="t1", kinds=("upload",)), chunks, encoder)
    before = first.tenant_counts("t1")
    first.close()
    again = KnowledgeStore(QdrantClient(path=path), local=True)
    assert again.tenant_counts("t1") == before == {"upload": 3}
    [vector] = encoder.embed(["Kestrel outage"])
    found = again.query(
        tenant_id="t1", dense=vector.tolist(), sparse=query_vector("Kestrel outage"), limit=3
    )
    assert {f.payload["tenant_id"] for f in found["sparse"]} == {"t1"}
    again.close()
