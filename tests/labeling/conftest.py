"""Labeling fixtures: a real app over a fresh, migrated database (SQLite or PostgreSQL, by the
`fresh_db_url` parameter), accounts made through identity's services, datasets ingested through
the API, and prediction-log rows written as the log writer writes them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from sentimentops.app.api import create_app
from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.identity.models import Tenant
from sentimentops.inference.models import PredictionRecord
from tests.apps import fastapi_app
from tests.identity.conftest import Account, Factory, make_settings

# Short enough for a test to outwait (3 s), long enough for its requests to fit inside on a
# loaded machine.
LOCK_MINUTES = 0.05


@pytest.fixture
def labeling_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        fresh_db_url, tmp_path / "data", serving_tasks=[], labeling_lock_minutes=LOCK_MINUTES
    )


@pytest.fixture
def client(labeling_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(labeling_settings)) as c:
        yield c


@pytest.fixture
def factory(client: TestClient) -> Factory:
    return Factory(fastapi_app(client).state.sessions, client)


@dataclass(frozen=True)
class Member:
    account: Account
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return self.account.client_id


def member(factory: Factory, tenant: str, name: str, *roles: Role) -> Member:
    account = factory.account(tenant, name, set(roles))
    return Member(account, factory.headers(account))


def ingest(client: TestClient, who: Member, rows: list[tuple[str, int]], name: str = "src") -> str:
    """A sentiment dataset version of `rows` (text, label), ingested through the API."""
    body = "text,label\n" + "".join(f'"{text}",{label}\n' for text, label in rows)
    response = client.post(
        "/api/v1/datasets",
        params={
            "task": "sentiment",
            "name": name,
            "text_col": "text",
            "label_col": "label",
            "format": "csv",
        },
        content=body.encode(),
        headers={**who.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    version_id: str = response.json()["version"]["id"]
    return version_id


def log_prediction(
    factory: Factory,
    tenant: Tenant,
    text: str,
    *,
    version: str,
    label: str,
    probability: float,
    alias: str = "production",
    task: str = "sentiment",
    at: datetime | None = None,
    keep_text: bool = True,
) -> None:
    """One prediction-log row, as inference/prediction_log.py writes it."""
    with db.transaction(factory.sessions) as session:
        session.execute(
            insert(PredictionRecord),
            [
                {
                    "tenant_id": tenant.id,
                    "created_at": at or datetime.now(UTC),
                    "task": task,
                    "model_name": task,
                    "model_version": version,
                    "model_alias": alias,
                    "label": label,
                    "probability": probability,
                    "latency_ms": 1.0,
                    "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "text_chars": len(text),
                    "text": text if keep_text else None,
                }
            ],
        )


def store_texts(factory: Factory, tenant: Tenant) -> None:
    """Opt the tenant in to storing prediction texts (PATCH /tenants does this for admins)."""
    with db.transaction(factory.sessions) as session:
        session.execute(
            update(Tenant).where(Tenant.id == tenant.id).values(store_prediction_texts=True)
        )


def project_body(
    source: Mapping[str, object], annotators: list[str], **extra: object
) -> dict[str, object]:
    return {
        "name": "Relabel reviews",
        "task": "sentiment",
        "guidelines": "Label the writer's opinion of the film.",
        "annotators": annotators,
        "source": source,
        **extra,
    }
