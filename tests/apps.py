"""Typed access to the app behind a `TestClient`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient


def fastapi_app(client: TestClient) -> FastAPI:
    """The FastAPI app a test client drives. `TestClient.app` is typed as a bare ASGI callable,
    so its `state` (sessions, metrics, ...) is only reachable once it is narrowed to the app."""
    app = client.app
    assert isinstance(app, FastAPI), type(app)
    return app
