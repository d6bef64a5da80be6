from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from sentimentops.app import schema
from sentimentops.app.api import create_app
from sentimentops.core.settings import Settings
from sentimentops.identity.deps import AUTHZ_DEPENDENCIES
from tests.apps import fastapi_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No scoring tasks: these tests are about the platform routes, not model loading.
    return Settings(data_dir=tmp_path, max_request_bytes=2048, serving_tasks=[], _env_file=None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    schema.upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_version_and_landing_page(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/version").json()["name"] == "sentimentops"
    page = client.get("/")
    assert page.status_code == 200
    assert "SentimentOps" in page.text


def test_ready_when_database_is_migrated(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "accepting_traffic": True}


def test_not_ready_without_schema(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] is False


def test_not_ready_while_draining(client: TestClient) -> None:
    fastapi_app(client).state.draining = True
    assert client.get("/readyz").status_code == 503


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
    assert generated != "bad id\n"
    assert len(generated) == 32


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/version", content=b"x" * 4096)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], set[object]]]:
    """(path, methods, dependency callables) of every API route, included routers flattened.

    FastAPI (0.16x) keeps included routers as lazy `_IncludedRouter` entries in `app.routes`;
    only `iter_route_contexts` yields the effective routes with the router-level dependencies.
    """
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue  # FastAPI's own docs routes
        calls = {dep.call for dep in context.dependant.dependencies}
        yield str(context.path), set(context.methods or ()), calls


def test_every_route_has_an_authorization_decision(settings: Settings) -> None:
    app = create_app(settings)
    routes = list(api_routes(app))
    # Guards against the walk itself going blind (it once saw no routes at all).
    assert len(routes) >= 10
    missing = [path for path, _methods, calls in routes if not calls & AUTHZ_DEPENDENCIES]
    assert missing == []


# The public contract of the generated UI client: `{tag}-{name}` per operation. Renaming one is
# a breaking change for clients, so it must be a deliberate edit of this list.
OPERATION_IDS = {
    ("GET", "/healthz"): "platform-healthz",
    ("GET", "/readyz"): "platform-readyz",
    ("GET", "/api/v1/version"): "platform-version",
    ("POST", "/api/v1/auth/token"): "auth-token",
    ("GET", "/.well-known/jwks.json"): "auth-jwks",
    ("POST", "/api/v1/auth/bootstrap"): "auth-bootstrap",
    ("GET", "/api/v1/auth/whoami"): "auth-whoami",
    ("GET", "/api/v1/tenants"): "tenants-list",
    ("POST", "/api/v1/tenants"): "tenants-create",
    ("GET", "/api/v1/tenants/{tenant_id}"): "tenants-get",
    ("PATCH", "/api/v1/tenants/{tenant_id}"): "tenants-update",
    ("GET", "/api/v1/service-accounts"): "service_accounts-list",
    ("POST", "/api/v1/service-accounts"): "service_accounts-create",
    ("GET", "/api/v1/service-accounts/{account_id}"): "service_accounts-get",
    ("DELETE", "/api/v1/service-accounts/{account_id}"): "service_accounts-disable",
    ("POST", "/api/v1/service-accounts/{account_id}/secret"): "service_accounts-rotate_secret",
    ("PUT", "/api/v1/service-accounts/{account_id}/roles/{role}"): "service_accounts-grant_role",
    ("DELETE", "/api/v1/service-accounts/{account_id}/roles/{role}"): (
        "service_accounts-revoke_role"
    ),
    ("POST", "/api/v1/service-accounts/{account_id}/api-keys"): "api_keys-create",
    ("GET", "/api/v1/api-keys"): "api_keys-list",
    ("GET", "/api/v1/api-keys/{key_id}"): "api_keys-get",
    ("DELETE", "/api/v1/api-keys/{key_id}"): "api_keys-revoke",
    ("POST", "/api/v1/sentiment"): "scoring-sentiment",
    ("POST", "/api/v1/sarcasm"): "scoring-sarcasm",
    ("POST", "/api/v1/analyze"): "scoring-analyze",
    ("GET", "/api/v1/models"): "scoring-models",
    ("GET", "/api/v1/metrics"): "scoring-metrics",
    ("GET", "/api/v1/approvals"): "approvals-list",
    ("GET", "/api/v1/approvals/{approval_id}"): "approvals-get",
    ("POST", "/api/v1/approvals/{approval_id}/approve"): "approvals-approve",
    ("POST", "/api/v1/approvals/{approval_id}/reject"): "approvals-reject",
    ("GET", "/api/v1/datasets"): "datasets-list",
    ("POST", "/api/v1/datasets"): "datasets-ingest",
    ("GET", "/api/v1/datasets/{dataset_id}"): "datasets-get",
    ("GET", "/api/v1/datasets/{dataset_id}/lineage"): "datasets-lineage",
    ("POST", "/api/v1/feedback"): "feedback-submit",
    ("POST", "/api/v1/labeling/projects"): "labeling-create_project",
    ("GET", "/api/v1/labeling/projects"): "labeling-list_projects",
    ("GET", "/api/v1/labeling/projects/{project_id}"): "labeling-get_project",
    ("PATCH", "/api/v1/labeling/projects/{project_id}"): "labeling-update_project",
    ("GET", "/api/v1/labeling/projects/{project_id}/next"): "labeling-next",
    (
        "POST",
        "/api/v1/labeling/projects/{project_id}/items/{item_id}/annotations",
    ): "labeling-annotate",
    ("POST", "/api/v1/labeling/projects/{project_id}/items/{item_id}/skip"): "labeling-skip",
    ("POST", "/api/v1/labeling/projects/{project_id}/undo"): "labeling-undo",
    ("GET", "/api/v1/labeling/projects/{project_id}/items"): "labeling-list_items",
    ("POST", "/api/v1/labeling/projects/{project_id}/items/{item_id}/resolve"): "labeling-resolve",
    (
        "POST",
        "/api/v1/labeling/projects/{project_id}/suspected-errors",
    ): "labeling-set_suspected_errors",
    ("GET", "/api/v1/labeling/projects/{project_id}/agreement"): "labeling-agreement",
    ("POST", "/api/v1/labeling/projects/{project_id}/export"): "labeling-export",
    ("GET", "/api/v1/data-issues"): "data_issues-list",
    ("GET", "/api/v1/data-issues/{issue_id}"): "data_issues-get",
    ("GET", "/api/v1/analytics/confusion"): "analytics-confusion",
    ("GET", "/api/v1/analytics/accuracy"): "analytics-accuracy",
    ("GET", "/api/v1/analytics/volume"): "analytics-volume",
    ("GET", "/api/v1/analytics/ab"): "analytics-ab",
    ("GET", "/api/v1/analytics/drift"): "analytics-drift",
    ("POST", "/api/v1/plans"): "plans-propose",
    ("GET", "/api/v1/plans"): "plans-list",
    ("POST", "/api/v1/plans/lifecycle"): "plans-start_lifecycle",
    ("POST", "/api/v1/plans/rollback"): "plans-start_rollback",
    ("GET", "/api/v1/plans/{workflow_id}"): "plans-get",
    ("POST", "/api/v1/plans/{workflow_id}/amend"): "plans-amend",
    ("POST", "/api/v1/plans/{workflow_id}/cancel"): "plans-cancel",
    ("GET", "/api/v1/sentries"): "sentries-list",
    ("POST", "/api/v1/sentries"): "sentries-start",
    ("DELETE", "/api/v1/sentries"): "sentries-stop",
    ("POST", "/api/v1/agents/threads"): "agents-create_thread",
    ("GET", "/api/v1/agents/threads"): "agents-list_threads",
    ("GET", "/api/v1/agents/threads/{thread_id}"): "agents-get_thread",
    ("POST", "/api/v1/agents/threads/{thread_id}/messages"): "agents-post_message",
    ("POST", "/api/v1/agents/threads/{thread_id}/decision"): "agents-decide",
    ("GET", "/api/v1/kb/search"): "kb-search",
    ("GET", "/api/v1/kb/documents"): "kb-list_documents",
    ("POST", "/api/v1/kb/documents"): "kb-upload_document",
    ("DELETE", "/api/v1/kb/documents/{document_id}"): "kb-delete_document",
    ("GET", "/api/v1/kb/status"): "kb-status",
    ("POST", "/api/v1/search/similar"): "search-similar",
    ("POST", "/api/v1/search/topics"): "search-topics",
}


def test_every_operation_has_its_stable_id(settings: Settings) -> None:
    spec = create_app(settings).openapi()
    found = {
        (method.upper(), path): operation.get("operationId")
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert found == OPERATION_IDS
    ids = list(found.values())
    assert len(ids) == len(set(ids))
    for (method, path), operation_id in found.items():
        [tag] = spec["paths"][path][method.lower()]["tags"]
        assert operation_id.startswith(f"{tag}-"), (method, path, operation_id)


def test_a_route_without_an_operation_id_is_refused(settings: Settings) -> None:
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="has no operation_id"):
        app.get("/api/v1/forgotten")(lambda: None)
