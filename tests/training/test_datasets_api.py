"""The dataset API end to end: real app, identity, database and snapshot store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sentimentops.app.api import create_app
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.vocabulary import Role
from sentimentops.training.datasets.models import DatasetVersion
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings

CSV = "headline,is_sarcastic\n" + "".join(
    f"area man number {i} declares victory,{i % 2}\n" for i in range(30)
)
PARAMS = {
    "task": "sarcasm",
    "name": "heads",
    "text_col": "headline",
    "label_col": "is_sarcastic",
    "format": "csv",
    "filename": "../../heads.csv",
}


@pytest.fixture
def client(fresh_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        fresh_db_url,
        tmp_path,
        max_request_bytes=2048,
        max_dataset_upload_bytes=4096,
        serving_tasks=[],
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def factory(client: TestClient) -> Factory:
    return Factory(fastapi_app(client).state.sessions, client)


def _upload(client: TestClient, headers: dict[str, str], body: bytes, **params: str) -> object:
    return client.post(
        "/api/v1/datasets",
        params={**PARAMS, **params},
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )


def _versions(factory: Factory) -> int:
    with factory.sessions() as session:
        return int(session.execute(select(func.count()).select_from(DatasetVersion)).scalar_one())


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
def test_ingest_read_and_lineage(client: TestClient, factory: Factory) -> None:
    analyst = factory.headers(factory.account("acme", "analyst", {Role.ANALYST}))
    viewer = factory.headers(factory.account("acme", "viewer", {Role.VIEWER}))

    created = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=CSV.encode(),
        headers={**analyst, "Content-Type": "text/csv"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True
    version = body["version"]
    assert version["row_count"] == 30
    assert version["source_name"] == "heads.csv"  # the base name only
    assert version["schema"][0] == {"name": "id", "dtype": "string"}
    assert version["label_balance"] == {"not_sarcastic": 15, "sarcastic": 15}

    again = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=CSV.encode(),
        headers={**analyst, "Content-Type": "text/csv"},
    )
    assert again.status_code == 200
    assert again.json()["version"]["id"] == version["id"]

    listing = client.get("/api/v1/datasets", headers=viewer)
    assert [v["id"] for v in listing.json()] == [version["id"]]
    shown = client.get(f"/api/v1/datasets/{version['id']}", headers=viewer)
    assert shown.json()["content_hash"] == version["content_hash"]
    lineage = client.get(f"/api/v1/datasets/{version['id']}/lineage", headers=viewer)
    assert lineage.json()["transform"] == "ingest"
    assert lineage.json()["parents"] == []

    with factory.sessions() as session:
        actions = (
            session.execute(
                select(AuditEvent.action).where(
                    AuditEvent.resource == f"dataset_version:{version['id']}"
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["dataset.ingest"]


def test_roles_tenants_and_bad_uploads(client: TestClient, factory: Factory) -> None:
    viewer = factory.headers(factory.account("acme", "viewer", {Role.VIEWER}))
    engineer = factory.headers(factory.account("acme", "engineer", {Role.ML_ENGINEER}))
    admin = factory.headers(factory.account("acme", "admin", {Role.TENANT_ADMIN}))
    outsider = factory.headers(factory.account("other", "eve", set(Role) - {Role.PLATFORM_ADMIN}))

    denied = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=CSV.encode(),
        headers={**viewer, "Content-Type": "text/csv"},
    )
    assert denied.status_code == 403
    ok = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=CSV.encode(),
        headers={**engineer, "Content-Type": "text/csv"},
    )
    assert ok.status_code == 201
    version_id = ok.json()["version"]["id"]
    assert client.get(f"/api/v1/datasets/{version_id}", headers=admin).status_code == 200

    # Another tenant sees nothing: 404 like a missing id, and an empty list.
    for path in (f"/api/v1/datasets/{version_id}", f"/api/v1/datasets/{version_id}/lineage"):
        assert client.get(path, headers=outsider).status_code == 404
    assert client.get("/api/v1/datasets", headers=outsider).json() == []

    bad = client.post(
        "/api/v1/datasets",
        params={**PARAMS, "text_col": "title"},
        content=CSV.encode(),
        headers={**engineer, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 422
    assert "'title' not found; the file has: 'headline', 'is_sarcastic'" in bad.json()["detail"]
    empty = CSV.replace("area man number 3 declares victory", "")
    rejected = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=empty.encode(),
        headers={**engineer, "Content-Type": "text/csv"},
    )
    assert rejected.status_code == 422
    assert "no missing values" in rejected.json()["detail"]
    # Over max_dataset_upload_bytes (4 KiB here; other routes keep max_request_bytes, 2 KiB).
    huge = client.post(
        "/api/v1/datasets",
        params=PARAMS,
        content=b"x" * 5000,
        headers={**engineer, "Content-Type": "text/csv"},
    )
    assert huge.status_code == 413
    assert _versions(factory) == 1
