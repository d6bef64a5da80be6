"""Curation fixtures: the app over a fresh, migrated database (SQLite or PostgreSQL, by the
`fresh_db_url` parameter), accounts made through identity's services, and dataset versions
recorded through the dataset service (snapshots in the app's data directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.app.api import create_app
from sentimentops.core import db
from sentimentops.core.flows import FlowContext
from sentimentops.core.http import deps
from sentimentops.core.settings import Settings
from sentimentops.identity.models import Tenant
from sentimentops.training.datasets import service as datasets
from sentimentops.training.datasets.models import DatasetVersion
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings

# Texts of the synthetic set are under 70 characters: a longer one breaks the length rule.
MAX_TEXT_CHARS = 70


@pytest.fixture
def curation_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        fresh_db_url, tmp_path / "data", serving_tasks=[], dataset_max_text_chars=MAX_TEXT_CHARS
    )


@pytest.fixture
def client(curation_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(curation_settings)) as c:
        yield c


@pytest.fixture
def factory(client: TestClient) -> Factory:
    return Factory(fastapi_app(client).state.sessions, client)


def flow_context(client: TestClient) -> FlowContext:
    """The app's own flow context (its settings and database), as its handlers get it."""
    return deps.flow_context(fastapi_app(client))


def record(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    frame: pd.DataFrame,
    *,
    name: str = "headlines",
) -> DatasetVersion:
    """A version of dataset `name` holding `frame` (sarcasm labels), as ingest records it."""
    with db.transaction(sessions) as session:
        version, _created = datasets.record_version(
            session,
            settings=settings,
            owner=datasets.Owner(tenant_id=tenant.id, tenant_label=tenant.slug, actor="test"),
            name=name,
            task="sarcasm",
            frame=frame,
            parent_ids=[],
            transform="ingest",
            transform_params={},
            source_name=f"{name}.csv",
            source_sha256=None,
        )
        session.expunge(version)
        return version
