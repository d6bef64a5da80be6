"""Analytics fixtures: a real app over a fresh, migrated database (SQLite or PostgreSQL, by the
`fresh_db_url` parameter), accounts made through identity's services, and traffic written into
the prediction log and failure table as inference/prediction_log.py writes it. Labels come
through the real feedback and labeling APIs (tests/labeling/conftest.py's helpers)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from sentimentops.app.api import create_app
from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.identity.models import Tenant
from sentimentops.inference.models import PredictionRecord, ScoringFailure
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings


@pytest.fixture
def analytics_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    # Generated queries (schemathesis) send hundreds of requests: no rate limit is under test.
    return make_settings(
        fresh_db_url,
        tmp_path / "data",
        serving_tasks=[],
        rate_limit_per_second=100_000,
        rate_limit_burst=100_000,
    )


@pytest.fixture
def client(analytics_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(analytics_settings)) as c:
        yield c


@pytest.fixture
def factory(client: TestClient) -> Factory:
    return Factory(fastapi_app(client).state.sessions, client)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Served:
    """One logged prediction."""

    text: str
    version: str
    label: str
    at: datetime
    alias: str = "production"
    probability: float = 0.9
    latency_ms: float = 1.0
    task: str = "sentiment"
    text_chars: int | None = None  # len(text) when None


def log(factory: Factory, tenant: Tenant, served: Sequence[Served]) -> None:
    """Prediction-log rows, in one transaction."""
    rows = [
        {
            "tenant_id": tenant.id,
            "created_at": s.at,
            "task": s.task,
            "model_name": s.task,
            "model_version": s.version,
            "model_alias": s.alias,
            "label": s.label,
            "probability": s.probability,
            "latency_ms": s.latency_ms,
            "text_sha256": sha(s.text),
            "text_chars": len(s.text) if s.text_chars is None else s.text_chars,
            "text": None,
        }
        for s in served
    ]
    with db.transaction(factory.sessions) as session:
        session.execute(insert(PredictionRecord), rows)


def log_failure(
    factory: Factory, tenant: Tenant, *, alias: str | None, texts: int, at: datetime
) -> None:
    with db.transaction(factory.sessions) as session:
        session.execute(
            insert(ScoringFailure),
            [
                {
                    "tenant_id": tenant.id,
                    "created_at": at,
                    "task": "sentiment",
                    "model_version": None if alias is None else f"{alias}-v",
                    "model_alias": alias,
                    "reason": "runtime_error" if alias else "no_model",
                    "texts": texts,
                }
            ],
        )


def day(offset: int, hour: int = 12) -> datetime:
    """`offset` days from today (UTC) at `hour` o'clock."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=offset, hours=hour)
