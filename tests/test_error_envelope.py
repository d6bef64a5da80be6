"""Every 4xx/5xx answer has one body, `{"error", "detail", "request_id"}` (core/http/errors.py):
domain errors, unknown routes, wrong methods, bodies that are not JSON, oversized bodies and
crashes alike; none echoes the request's input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from sentimentops.app import schema
from sentimentops.app.api import create_app
from sentimentops.core.settings import Settings

BOOTSTRAP = "/api/v1/auth/bootstrap"  # public, with a JSON body: reaches validation unauthenticated


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, max_request_bytes=2048, serving_tasks=[], _env_file=None)
    schema.upgrade(settings.resolved_database_url)
    app = create_app(settings)

    @app.get("/api/v1/test-crash", operation_id="test-crash", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("internal detail that must not leak")

    # raise_server_exceptions=False: answer as a server would (the crash is re-raised for the
    # server's log after the 500 is sent).
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class _Response(Protocol):
    """What these checks read of a test client's response (httpx's or httpx2's class)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


def _envelope(response: _Response, status: int, error: str) -> str:
    """The body's detail, once its shape, code and request id are checked."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert set(body) <= {"error", "detail", "request_id", "errors"}
    detail: str = body["detail"]
    return detail


def test_unknown_route_is_404(client: TestClient) -> None:
    assert _envelope(client.get("/api/v1/nothing-here"), 404, "NotFound")


def test_wrong_method_is_405_and_names_the_allowed_ones(client: TestClient) -> None:
    response = client.delete("/api/v1/version")
    assert "GET" in _envelope(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("headers", "sent"),
    [({}, "no Content-Type"), ({"content-type": "text/plain"}, "Content-Type text/plain")],
)
def test_json_without_its_content_type_gets_a_hint(
    client: TestClient, headers: dict[str, str], sent: str
) -> None:
    response = client.post(BOOTSTRAP, content=b'{"bootstrap_token": "x"}', headers=headers)
    detail = _envelope(response, 422, "ValidationError")
    assert detail.startswith("send the body as JSON with Content-Type: application/json")
    assert sent in detail


def test_a_wrong_json_body_gets_no_content_type_hint(client: TestClient) -> None:
    response = client.post(BOOTSTRAP, json=["not", "an", "object"])
    assert "Content-Type" not in _envelope(response, 422, "ValidationError")


def test_a_body_that_is_not_utf8_is_400(client: TestClient) -> None:
    response = client.post(
        BOOTSTRAP,
        content=b'{"bootstrap_token": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert "UTF-8" in _envelope(response, 400, "BadRequest")


def test_broken_json_says_where_not_what(client: TestClient) -> None:
    response = client.post(
        BOOTSTRAP,
        content=b'{"bootstrap_token": "s3cret',
        headers={"content-type": "application/json"},
    )
    detail = _envelope(response, 422, "ValidationError")
    assert "JSON decode error" in detail
    assert "s3cret" not in response.text


def test_validation_errors_carry_no_input(client: TestClient) -> None:
    response = client.post(
        BOOTSTRAP, json={"bootstrap_token": "", "password": "hunter2-must-not-echo"}
    )
    _envelope(response, 422, "ValidationError")
    assert "hunter2" not in response.text
    errors = response.json()["errors"]
    assert {tuple(e["loc"]) for e in errors} == {("body", "bootstrap_token"), ("body", "password")}
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)


def test_oversized_bodies_are_413_with_or_without_a_length(client: TestClient) -> None:
    declared = client.post(BOOTSTRAP, content=b"x" * 4096, headers={"content-type": "text/plain"})
    assert "2048 bytes" in _envelope(declared, 413, "PayloadTooLarge")

    def chunks() -> Iterator[bytes]:
        yield from [b"x" * 1000] * 4

    # Chunked, no Content-Length: the limit trips while the app reads the body (FastAPI would
    # otherwise answer its read error with 400 "There was an error parsing the body").
    streamed = client.post(
        BOOTSTRAP, content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    assert "2048 bytes" in _envelope(streamed, 413, "PayloadTooLarge")


def test_domain_errors_share_the_envelope(client: TestClient) -> None:
    response = client.get("/api/v1/auth/whoami", headers={"X-Request-ID": "trace-me-42"})
    _envelope(response, 401, "Unauthorized")
    assert response.json()["request_id"] == "trace-me-42"


def test_a_crash_is_a_500_envelope_without_internals(client: TestClient) -> None:
    response = client.get("/api/v1/test-crash")
    assert "request id" in _envelope(response, 500, "InternalError")
    assert "internal detail" not in response.text
