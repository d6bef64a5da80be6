"""The scoring API's contracts at its edges: canary shares per task on /models, one batch limit
with one message, and the WebSocket stream's errors (no echoed input; refusals like REST)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from sentimentops.core import db
from sentimentops.core.vocabulary import Role
from sentimentops.inference.models import CanaryShare
from sentimentops.inference.router import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED
from tests.apps import fastapi_app
from tests.inference.conftest import Env, wait_for


def test_models_reports_the_canary_share_of_each_task(own_env: Env) -> None:
    env = own_env
    before = env.client.get("/api/v1/models", headers=env.headers).json()
    assert before["canary_shares"] == {"sentiment": 0.0, "sarcasm": 0.0}
    # What the lifecycle's set_canary step writes: a 10 % sarcasm canary for this tenant.
    with db.transaction(env.factory.sessions) as session:
        session.add(
            CanaryShare(
                tenant_id=env.user.tenant.id,
                task="sarcasm",
                share=0.1,
                updated_by="test",
                updated_at=datetime.now(UTC),
            )
        )

    def models() -> dict[str, object]:
        r = env.client.get("/api/v1/models", headers=env.headers)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    wait_for(lambda: models()["canary_shares"] == {"sentiment": 0.0, "sarcasm": 0.1})
    # The single number, kept for older clients, is the largest share: never 0 during a canary.
    assert models()["canary_share"] == 0.1
    # Another tenant's canary is not this one's.
    other = env.factory.account("globex", "app", {Role.VIEWER})
    r = env.client.get("/api/v1/models", headers=env.factory.headers(other))
    assert r.json()["canary_shares"] == {"sentiment": 0.0, "sarcasm": 0.0}


def test_models_schema_marks_the_single_share_deprecated(env: Env) -> None:
    schema = env.client.get("/openapi.json").json()["components"]["schemas"]["ServingModels"]
    assert schema["properties"]["canary_share"]["deprecated"] is True
    assert "canary_shares" in schema["required"]


def test_one_batch_limit_with_one_message(env: Env) -> None:
    limit = fastapi_app(env.client).state.settings.max_batch_texts
    answers = []
    for size in (limit + 1, 10_000):
        r = env.client.post("/api/v1/sentiment", json={"texts": ["ok"] * size}, headers=env.headers)
        assert r.status_code == 422, r.text
        answers.append({k: v for k, v in r.json().items() if k != "request_id"})
    assert (
        answers[0]
        == answers[1]
        == {
            "error": "InvalidInput",
            "detail": f"at most {limit} texts per request",
        }
    )
    at_limit = env.client.post(
        "/api/v1/sentiment", json={"texts": ["ok"] * limit}, headers=env.headers
    )
    assert at_limit.status_code == 200, at_limit.text


def test_every_context_turn_is_bounded_like_a_text(env: Env) -> None:
    chars = fastapi_app(env.client).state.settings.max_text_chars
    expected = f"texts are limited to {chars} characters"
    for body in (
        {"text": "x" * (chars + 1)},
        {"text": "ok", "context": ["y" * (chars + 1)]},
        # An earlier turn, which no model reads, still may not exceed the limit.
        {"text": "ok", "context": ["y" * (chars + 1), "the turn it answers"]},
        {"texts": [{"text": "ok", "context": ["y" * (chars + 1), "a turn"]}]},
    ):
        r = env.client.post("/api/v1/sarcasm", json=body, headers=env.headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == expected


def test_validation_errors_do_not_echo_the_input(env: Env) -> None:
    r = env.client.post(
        "/api/v1/sentiment",
        json={"text": "ok", "api_secret": "hunter2-do-not-echo", "explain": "hunter3"},
        headers=env.headers,
    )
    assert r.status_code == 422
    body = r.json()
    assert "hunter" not in r.text
    assert body["error"] == "ValidationError"
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    assert ["body", "api_secret"] in [e["loc"] for e in body["errors"]]
    assert body["request_id"] == r.headers["x-request-id"]


def test_stream_errors_do_not_echo_the_input(env: Env) -> None:
    with env.client.websocket_connect("/api/v1/stream", headers=env.headers) as ws:
        ws.send_json({"id": "a", "task": "bogus", "text": "my private words"})
        ws.send_json({"id": "b", "task": "sentiment", "text": "ok", "extra": "hunter2"})
        answers = [ws.receive_json() for _ in range(2)]
    assert len(answers) == 2
    for answer in answers:
        error = answer["error"]
        assert error.startswith("invalid message: ")
        for echoed in ("bogus", "my private words", "hunter2", "input_value", "input_type"):
            assert echoed not in error
    assert any("task: Input should be 'sentiment' or 'sarcasm'" in a["error"] for a in answers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "so_not-a-key"},
        {"Authorization": "Bearer not.a.token"},
        {"Sec-WebSocket-Protocol": "sentimentops.v1, bearer.not-a-token"},
    ],
)
def test_stream_refuses_bad_credentials_with_401_like_rest(
    env: Env,
    headers: dict[str, str],
) -> None:
    rest = env.client.post("/api/v1/sentiment", json={"text": "ok"}, headers=headers)
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        env.client.websocket_connect("/api/v1/stream", headers=headers),
    ):
        pass
    denial = refused.value
    assert denial.status_code == rest.status_code == 401
    assert denial.headers["www-authenticate"] == rest.headers["www-authenticate"]
    assert denial.json()["error"] == rest.json()["error"] == "Unauthorized"
    assert denial.json()["request_id"] == denial.headers["x-request-id"]


def test_stream_refuses_a_foreign_origin_with_403(env: Env) -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        env.client.websocket_connect(
            "/api/v1/stream", headers={**env.headers, "Origin": "https://evil.example"}
        ),
    ):
        pass
    assert refused.value.status_code == 403
    assert refused.value.json()["error"] == "Forbidden"


def _without_denial_responses(app: ASGIApp) -> ASGIApp:
    """The app behind a server without the WebSocket denial-response extension (uvicorn's
    wsproto backend): handshakes cannot be answered with an HTTP status."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    return wrapped


def test_without_denial_responses_the_stream_closes_with_4401_or_4403(
    env: Env,
) -> None:
    # Not entered as a context manager: the app (and its lifespan) is already running in env.
    client = TestClient(_without_denial_responses(fastapi_app(env.client)))
    with (
        pytest.raises(WebSocketDisconnect) as unauthorized,
        client.websocket_connect("/api/v1/stream", headers={"X-API-Key": "so_not-a-key"}) as ws,
    ):
        ws.receive_text()
    assert (unauthorized.value.code, unauthorized.value.reason) == (
        CLOSE_UNAUTHORIZED,
        "unauthorized",
    )
    with (
        pytest.raises(WebSocketDisconnect) as forbidden,
        client.websocket_connect(
            "/api/v1/stream", headers={**env.headers, "Origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_text()
    assert (forbidden.value.code, forbidden.value.reason) == (CLOSE_FORBIDDEN, "forbidden")
