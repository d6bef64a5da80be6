"""Indexing and retrieval on real Qdrant local mode with the real encoder: incremental re-index,
no orphans, tenant isolation on every retrieval mode, and the runbook answers a rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qdrant_client import QdrantClient

from sentimentops.core.knowledge import KB_KINDS
from sentimentops.knowledge_base import sources
from sentimentops.knowledge_base.chunking import SourceDocument
from sentimentops.knowledge_base.embedding import Encoder
from sentimentops.knowledge_base.service import KnowledgeService, Retrieval
from sentimentops.knowledge_base.store import KnowledgeStore, Scope
from tests.knowledge_base.conftest import CountingEncoder

MODES: tuple[Retrieval, ...] = ("dense", "sparse", "hybrid")
# A first section long enough that the document is cut at its headings.
LONG = "The first section says a great deal about alpha. " * 23
SECOND = "The second section says a little about beta. " * 3


def _upload(tenant_id: str, source: str, text: str) -> SourceDocument:
    return SourceDocument(
        source=source, kind="upload", title=f"{source}.md", text=text, tenant_id=tenant_id
    )


def _scope(tenant_id: str, *names: str) -> Scope:
    return Scope(tenant_id=tenant_id, kinds=("upload",), sources=names or None)


@pytest.fixture(scope="module")
def docs_service(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[KnowledgeService]:
    """The repository's docs, indexed once for the module's read-only tests."""
    path = tmp_path_factory.mktemp("kb-docs") / "qdrant"
    store = KnowledgeStore(QdrantClient(path=str(path)), local=True)
    service = KnowledgeService(store, encoder)
    service.sync(sources.DOCS_SCOPE, sources.platform_docs())
    yield service
    store.close()


def test_re_indexing_embeds_only_what_changed(
    service: KnowledgeService, counting: CountingEncoder
) -> None:
    docs = [
        _upload("t1", "upload:a", f"# Alpha\n{LONG}\n## Beta\n{SECOND}"),
        _upload("t1", "upload:b", "# Gamma\nThird document."),
    ]
    first = service.sync(_scope("t1"), docs)
    assert (first.chunks, first.embedded, first.deleted) == (3, 3, 0)
    assert counting.embedded == 3

    again = service.sync(_scope("t1"), docs)
    assert (again.embedded, again.deleted) == (0, 0)
    assert counting.embedded == 3  # nothing new was embedded

    edited = [_upload("t1", "upload:a", f"# Alpha\n{LONG}\n## Beta\n{SECOND} Changed."), docs[1]]
    third = service.sync(_scope("t1"), edited)
    assert (third.embedded, third.deleted) == (1, 1)
    assert counting.embedded == 4
    assert service.store.sources(_scope("t1")) == {"upload:a": 2, "upload:b": 1}


def test_a_removed_source_leaves_no_chunks(service: KnowledgeService) -> None:
    docs = [
        _upload("t1", "upload:a", "# Alpha\nKeep me."),
        _upload("t1", "upload:b", f"# Gamma\nDelete me. {LONG}\n## More\n{SECOND}"),
    ]
    service.sync(_scope("t1"), docs)
    removed = service.sync(_scope("t1", "upload:b"), [])
    assert removed.deleted == 2
    assert service.store.sources(_scope("t1")) == {"upload:a": 1}
    hits = service.search_sync(tenant_id="t1", query="Delete me", limit=10)
    assert all(h.source != "upload:b" for h in hits)


def test_a_sync_refuses_chunks_outside_its_scope(service: KnowledgeService) -> None:
    with pytest.raises(ValueError, match="outside the scope"):
        service.sync(_scope("t1"), [_upload("t2", "upload:x", "# X\nother tenant")])


@pytest.mark.parametrize("mode", MODES)
def test_no_retrieval_mode_returns_another_tenants_chunk(
    service: KnowledgeService, mode: Retrieval
) -> None:
    secret = "Project Nightingale codename rollout quarterly budget"
    service.sync(_scope("tenant-a"), [_upload("tenant-a", "upload:n", f"# Nightingale\n{secret}")])
    service.sync(_scope("tenant-b"), [_upload("tenant-b", "upload:m", "# Other\nUnrelated notes")])
    found_by_a = service.search_sync(tenant_id="tenant-a", query=secret, retrieval=mode, limit=20)
    assert found_by_a[0].source == "upload:n"
    assert found_by_a[0].tenant_id == "tenant-a"
    for kinds in (None, ("upload",), KB_KINDS):
        for rerank in (False, True):
            found_by_b = service.search_sync(
                tenant_id="tenant-b",
                query=secret,
                retrieval=mode,
                limit=20,
                kinds=kinds,
                rerank=rerank,
            )
            assert {h.tenant_id for h in found_by_b} <= {"tenant-b", None}
            assert all(h.source != "upload:n" for h in found_by_b)


def test_a_tenant_search_needs_a_tenant(service: KnowledgeService) -> None:
    with pytest.raises(ValueError, match="tenant id"):
        service.search_sync(tenant_id="", query="anything")


def test_the_runbook_answers_how_to_roll_back(docs_service: KnowledgeService) -> None:
    [first, *_rest] = docs_service.search_sync(
        tenant_id="t1", query="how do I roll back sentiment", limit=5
    )
    assert first.source == "docs/runbooks.md"
    assert first.heading_path[-1] == "Rolling back a model"
    assert first.url == "docs/runbooks.md"
    assert first.kind == "doc"
    assert first.tenant_id is None
    assert "sentimentops rollback --task sentiment" in first.text


def test_platform_docs_are_read_by_every_tenant_and_filtered_by_kind(
    docs_service: KnowledgeService,
) -> None:
    for tenant in ("t1", "t2"):
        hits = docs_service.search_sync(tenant_id=tenant, query="deployment sentry", limit=3)
        assert hits
        assert all(h.kind == "doc" for h in hits)
    assert (
        docs_service.search_sync(tenant_id="t1", query="deployment sentry", kinds=("plan",)) == []
    )


def test_re_indexing_the_docs_embeds_nothing(
    docs_service: KnowledgeService, encoder: Encoder
) -> None:
    counting = CountingEncoder(encoder)
    result = KnowledgeService(docs_service.store, counting).sync(
        sources.DOCS_SCOPE, sources.platform_docs()
    )
    assert result.embedded == 0
    assert result.deleted == 0
    assert counting.embedded == 0
    assert result.sources == len(sources.platform_doc_paths())
