from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from sentimentops.core import db
from sentimentops.core.api.app import create_app
from sentimentops.core.api.deps import AUTHZ_DEPENDENCIES
from sentimentops.core.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, max_request_bytes=2048, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    db.upgrade(settings.resolved_database_url)
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


def test_every_route_has_an_authorization_decision(settings: Settings) -> None:
    app = create_app(settings)
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue  # FastAPI's own docs routes
        calls = {dep.call for dep in route.dependant.dependencies}
        if not calls & AUTHZ_DEPENDENCIES:
            missing.append(route.path)
    assert missing == []
