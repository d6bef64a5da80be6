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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No scoring tasks: these tests are about the platform routes, not model loading.
    return Settings(data_dir=tmp_path, max_request_bytes=2048, serving_tasks=[], _env_file=None)  # type: ignore[call-arg]


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
    client.app.state.draining = True  # type: ignore[attr-defined]
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
