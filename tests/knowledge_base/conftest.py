"""Knowledge base fixtures: the real MiniLM encoder, exported to ONNX once per test session (by
the same child process the platform runs), and a fresh Qdrant local-mode store per test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from sentimentops.knowledge_base.embedding import (
    ENCODER_FILE,
    Encoder,
    FloatMatrix,
    Progress,
    ensure_exported,
)
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.store import KnowledgeStore


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
