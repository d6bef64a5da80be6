"""Fixtures for the scoring API tests: a running app over a real MLflow registry (SQLite store),
ONNX Runtime, identity and database, and an account that may score."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentimentops.app import schema
from sentimentops.app.api import create_app
from sentimentops.core.vocabulary import Role
from tests.identity.conftest import Account, Factory, make_settings
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register


@dataclass
class Env:
    client: TestClient
    factory: Factory
    tracking_uri: str
    tmp: Path
    user: Account
    headers: dict[str, str]


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store with version 1 of both models, made once: each app copies it."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register(uri, "sentiment", make_onnx_artifact(root / "s1"), "production")
    # The sarcasm model reads the previous turn (up to 8 tokens after a [SEP]).
    sarcasm = make_onnx_artifact(root / "c1", task="sarcasm", context_tokens=8)
    register(uri, "sarcasm", sarcasm, "production")
    return root / "mlflow.db"


@contextmanager
def _running(tmp: Path, template: Path) -> Iterator[Env]:
    shutil.copy(template, tmp / "mlflow.db")
    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    db_url = f"sqlite:///{tmp / 'app.db'}"
    schema.upgrade(db_url)
    settings = make_settings(
        db_url,
        tmp,
        mlflow_tracking_uri=tracking_uri,
        model_poll_seconds=0.5,
        max_request_bytes=65_536,
        rate_limit_per_second=1000.0,
        rate_limit_burst=1000,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        factory = Factory(app.state.sessions, client)
        user = factory.account("acme", "app", {Role.VIEWER})
        wait_for(lambda: client.get("/readyz").status_code == 200)
        yield Env(client, factory, tracking_uri, tmp, user, factory.headers(user))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, registry_template: Path) -> Iterator[Env]:
    """One running app for the tests that change nothing but the prediction log."""
    with _running(tmp_path_factory.mktemp("app"), registry_template) as running:
        yield running


@pytest.fixture
def own_env(tmp_path: Path, registry_template: Path) -> Iterator[Env]:
    """An app of its own, for tests that change the registry."""
    with _running(tmp_path, registry_template) as running:
        yield running
