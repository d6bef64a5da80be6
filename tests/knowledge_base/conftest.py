"""Knowledge base fixtures: the real MiniLM encoder, exported to ONNX once per test session (by
the same child process the platform runs), and a fresh Qdrant local-mode store per test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.app.api import create_app
from sentimentops.core import db
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.settings import Settings
from sentimentops.knowledge_base.embedding import (
    ENCODER_FILE,
    Encoder,
    FloatMatrix,
    Progress,
    ensure_exported,
)
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.store import KnowledgeStore
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings


@pytest.fixture(scope="session")
def encoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_exported(tmp_path_factory.mktemp("kb-encoder") / ENCODER_FILE)


@pytest.fixture(scope="session")
def encoder(encoder_file: Path) -> Encoder:
    return Encoder(encoder_file)


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.embedded = 0

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> FloatMatrix:
        self.embedded += len(texts)
        return self.encoder.embed(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def counting(encoder: Encoder) -> CountingEncoder:
    return CountingEncoder(encoder)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = KnowledgeStore(QdrantClient(path=str(tmp_path / "qdrant")), local=True)
    yield opened
    opened.close()


@pytest.fixture
def service(store: KnowledgeStore, counting: CountingEncoder) -> KnowledgeService:
    return KnowledgeService(store, counting)


@pytest.fixture
def kb_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(fresh_db_url, tmp_path / "data")


@pytest.fixture
def kb_runtime(kb_settings: Settings, service: KnowledgeService) -> KnowledgeRuntime:
    """The platform's knowledge base runtime over this test's store and the shared encoder."""
    sessions = db.make_session_factory(db.make_engine(kb_settings.resolved_database_url))
    return KnowledgeRuntime(
        kb_settings,
        sessions=sessions,
        registry=lambda: MlflowRegistry(kb_settings.resolved_mlflow_tracking_uri, read_only=True),
        service=service,
    )


@pytest.fixture
def kb_client(kb_settings: Settings, kb_runtime: KnowledgeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(kb_settings, knowledge=kb_runtime)) as client:
        yield client


@pytest.fixture
def kb_factory(kb_client: TestClient) -> Factory:
    sessions: sessionmaker[Session] = fastapi_app(kb_client).state.sessions
    return Factory(sessions, kb_client)
