"""Session-wide real services (PostgreSQL, Redis, OPA, Temporal) and per-test databases.

Database tests run on both SQLite and PostgreSQL through the `db_url`/`session` fixtures. The
schema comes from Alembic (`upgrade head` once per backend); each test runs inside a transaction
that is rolled back, with the code under test using SAVEPOINTs inside it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from sentimentops.app import schema
from sentimentops.core import db
from tests import services


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("SENTIMENTOPS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    url, stop = services.start_postgres()
    yield url
    stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("SENTIMENTOPS_TEST_REDIS_URL")
    if url:
        yield url
        return
    url, stop = services.start_redis()
    yield url
    stop()


@pytest.fixture(scope="session")
def opa_url() -> Iterator[str]:
    url = os.environ.get("SENTIMENTOPS_TEST_OPA_URL")
    if url:
        yield url
        return
    url, stop = services.start_opa()
    yield url
    stop()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    # dev_server_existing_path: the SDK would otherwise try to download a server binary.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=services.tool("temporal"),
        data_converter=pydantic_data_converter,
        ip="127.0.0.1",
    )
    yield env
    await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


def _fresh_database(kind: str, postgres_server: str, tmp_dir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_dir / 'app.db'}"
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_db_url(
    request: pytest.FixtureRequest, postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A database of each backend, migrated to head once per session."""
    url = _fresh_database(request.param, postgres_server, tmp_path_factory.mktemp("db"))
    schema.upgrade(url)
    return url


@pytest.fixture(scope="session")
def migrated_engine(migrated_db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(migrated_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(migrated_engine: Engine) -> Iterator[Connection]:
    """One connection per test, inside a transaction that is always rolled back."""
    with migrated_engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Session factory for code under test: its commits become SAVEPOINT releases."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def fresh_db_url(request: pytest.FixtureRequest, postgres_server: str, tmp_path: Path) -> str:
    """A new, migrated database for tests that need real commits (CLI, separate processes)."""
    kind = getattr(request, "param", "sqlite")
    url = _fresh_database(kind, postgres_server, tmp_path)
    schema.upgrade(url)
    return url
