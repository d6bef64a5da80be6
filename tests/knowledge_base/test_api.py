"""/api/v1/kb over a real app, database and Qdrant local mode: a tenant's document is found by
that tenant and by nobody else, leaves with its chunks, and uploads are checked."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sentimentops.core.vocabulary import Role
from sentimentops.knowledge_base.flows import MAX_DOCUMENT_BYTES
from sentimentops.knowledge_base.wiring import OPENING_RETRY_SECONDS, KnowledgeRuntime
from tests.identity.conftest import Factory

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

NOTE = """# Incident review: the Kestrel outage
## What happened
The Kestrel pipeline dropped every sarcasm request for forty minutes after a bad config push.
## Follow-up
Pin the tokenizer version and add a canary for config changes.
"""
MARKDOWN = {"content-type": "text/markdown; charset=utf-8"}


def _search(
    client: TestClient, headers: dict[str, str], q: str, **params: str | int
) -> list[dict[str, Any]]:
    response = client.get("/api/v1/kb/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def test_a_document_is_found_by_its_tenant_only_and_leaves_with_its_chunks(
    kb_client: TestClient, kb_factory: Factory
) -> None:
    a = kb_factory.headers(kb_factory.account("tenant-a", "a-eng", {Role.ML_ENGINEER}))
    b = kb_factory.headers(
        kb_factory.account("tenant-b", "b-admin", set(Role) - {Role.PLATFORM_ADMIN})
    )

    uploaded = kb_client.post(
        "/api/v1/kb/documents",
        params={"name": "kestrel.md"},
        content=NOTE,
        headers={**a, **MARKDOWN},
    )
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["created"] is True
    assert body["chunks"] == 1  # a short document stays whole
    document_id = body["document"]["id"]
    again = kb_client.post(
        "/api/v1/kb/documents", params={"name": "copy.md"}, content=NOTE, headers={**a, **MARKDOWN}
    )
    assert again.status_code == 200
    assert again.json()["document"]["id"] == document_id

    query = "why did the Kestrel pipeline drop sarcasm requests"
    [first, *_] = _search(kb_client, a, query)
    assert first["source"] == f"upload:{document_id}"
    assert first["heading_path"] == ["kestrel.md", "Incident review: the Kestrel outage"]
    assert first["kind"] == "upload"

    variants: list[dict[str, str | int]] = [{}, {"kind": "upload"}, {"limit": 20}]
    for params in variants:
        assert all(
            h["source"] != f"upload:{document_id}" for h in _search(kb_client, b, query, **params)
        )
    assert kb_client.get("/api/v1/kb/documents", headers=b).json() == []
    assert kb_client.delete(f"/api/v1/kb/documents/{document_id}", headers=b).status_code == 404
    listed = kb_client.get("/api/v1/kb/documents", headers=a).json()
    assert [d["id"] for d in listed] == [document_id]
    status = kb_client.get("/api/v1/kb/status", headers=a).json()
    assert status["tenant_chunks"] == {"upload": 1}
    assert status["documents"] == 1
    assert kb_client.get("/api/v1/kb/status", headers=b).json()["tenant_chunks"] == {}

    assert kb_client.delete(f"/api/v1/kb/documents/{document_id}", headers=a).status_code == 204
    assert all(
        h["source"] != f"upload:{document_id}" for h in _search(kb_client, a, query, limit=20)
    )
    assert kb_client.get("/api/v1/kb/documents", headers=a).json() == []
    assert kb_client.get("/api/v1/kb/status", headers=a).json()["tenant_chunks"] == {}


def test_uploads_are_checked(kb_client: TestClient, kb_factory: Factory) -> None:
    viewer = kb_factory.headers(kb_factory.account("tenant-a", "a-viewer", {Role.VIEWER}))
    analyst = kb_factory.headers(kb_factory.account("tenant-a", "a-analyst", {Role.ANALYST}))
    agent = kb_factory.headers(kb_factory.account("tenant-a", "a-agent", {Role.AGENT}))

    def upload(
        headers: dict[str, str],
        content: bytes,
        content_type: str = "text/plain",
        name: str = "notes.txt",
    ) -> int:
        response = kb_client.post(
            "/api/v1/kb/documents",
            params={"name": name},
            content=content,
            headers={**headers, "content-type": content_type},
        )
        return response.status_code

    assert upload(viewer, b"plain notes") == 403
    assert upload(agent, b"plain notes") == 403  # agents never write what agents read
    assert upload(analyst, b"plain notes", "application/pdf") == 422
    assert upload(analyst, b"\xff\xfe not utf-8") == 422
    assert upload(analyst, b"   ") == 422
    assert upload(analyst, b"x" * (MAX_DOCUMENT_BYTES + 1)) == 422
    assert upload(analyst, b"plain notes", name="line\x00break") == 422
    assert upload(analyst, b"plain notes", name="   ") == 422
    assert upload(analyst, b"plain notes") == 201
    assert kb_client.get("/api/v1/kb/search", params={"q": ""}, headers=viewer).status_code == 422
    found = _search(kb_client, viewer, "plain notes", kind="upload")
    assert [h["heading_path"] for h in found] == [["notes.txt"]]


def test_a_search_while_the_knowledge_base_opens_is_503_with_retry_after(
    kb_client: TestClient, kb_factory: Factory, kb_runtime: KnowledgeRuntime
) -> None:
    viewer = kb_factory.headers(kb_factory.account("tenant-a", "a-viewer", {Role.VIEWER}))
    # Another thread opening the store holds this lock for as long as the encoder export takes.
    with kb_runtime._lock:  # the opening thread, played by the test
        response = kb_client.get("/api/v1/kb/search", params={"q": "roll back"}, headers=viewer)
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) == OPENING_RETRY_SECONDS
    assert "still opening" in response.json()["detail"]
    assert kb_client.get("/api/v1/kb/search", params={"q": "roll back"}, headers=viewer).is_success
