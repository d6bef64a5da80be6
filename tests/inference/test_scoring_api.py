"""The scoring API end to end: real MLflow registry (SQLite store), ONNX Runtime, identity,
database and prediction log."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse

from sentimentops.core import db
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.vocabulary import Role
from sentimentops.identity.models import Tenant
from sentimentops.inference.models import PredictionRecord
from tests.inference.conftest import Env, wait_for
from tests.inference.factories import make_onnx_artifact, make_routed_artifact
from tests.inference.registry import register


def test_single_text_names_the_version_that_answered(env: Env) -> None:
    r = env.client.post("/api/v1/sentiment", json={"text": "a wonderful film"}, headers=env.headers)
    assert r.status_code == 200, r.text
    [p] = r.json()["predictions"]
    assert p["label"] == "positive"
    assert p["probability"] > 0.85
    assert p["model"] == {
        "name": "sentiment",
        "version": "1",
        "alias": "production",
        "route": "main",
        "language": None,
    }
    assert set(p["scores"]) == {"negative", "positive"}
    assert p["in_domain"] is True


def _scores(env: Env, task: str, body: dict[str, object]) -> list[dict[str, float]]:
    r = env.client.post(f"/api/v1/{task}", json=body, headers=env.headers)
    assert r.status_code == 200, r.text
    return [p["scores"] for p in r.json()["predictions"]]


def test_context_reaches_models_that_read_it(env: Env) -> None:
    [alone] = _scores(env, "sarcasm", {"text": "a good film"})
    [replied] = _scores(
        env, "sarcasm", {"text": "a good film", "context": ["i love it", "the worst boring book"]}
    )
    assert replied["positive"] < alone["positive"]
    # Only the last turn (the one the text answers) is read.
    [last] = _scores(env, "sarcasm", {"text": "a good film", "context": ["the worst boring book"]})
    assert last == replied
    # A model without context tokens answers the same with or without one.
    [plain] = _scores(env, "sentiment", {"text": "a good film"})
    [ignored] = _scores(env, "sentiment", {"text": "a good film", "context": ["the worst"]})
    assert ignored == plain


def test_batch_mixes_strings_and_items_with_context(env: Env) -> None:
    body = {
        "texts": [
            "a good film",
            {"text": "a good film", "context": ["the worst boring book"]},
            {"text": "a good film"},
            {"text": "a good film", "context": []},
        ]
    }
    r = env.client.post("/api/v1/sarcasm", json=body, headers=env.headers)
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert len(predictions) == 4
    for p in predictions:
        assert p["in_domain"] is True
        assert p["model"]["route"] == "main"
        assert p["model"]["language"] is None
        assert p["model"]["name"] == "sarcasm"
    plain, replied, item, empty = (p["scores"]["positive"] for p in predictions)
    assert replied < plain
    assert item == empty == plain
    analyzed = env.client.post("/api/v1/analyze", json=body, headers=env.headers)
    assert analyzed.status_code == 200, analyzed.text
    sarcasm = [a["sarcasm"]["scores"]["positive"] for a in analyzed.json()["predictions"]]
    assert sarcasm == [plain, replied, item, empty]


def test_batch_analyze_and_explanations(env: Env) -> None:
    r = env.client.post(
        "/api/v1/analyze",
        json={"texts": ["the worst book", "i love it"], "explain": True},
        headers=env.headers,
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["predictions"]
    assert first["sentiment"]["label"] == "negative"
    assert second["sentiment"]["label"] == "positive"
    weights = {w["token"]: w["weight"] for w in second["sentiment"]["explanation"]}
    assert max(weights, key=weights.__getitem__) == "love"
    assert first["sarcasm"]["model"]["name"] == "sarcasm"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 422),
        ({"text": "\u200b\x00 \u202e"}, 422),
        ({"text": "ok", "texts": ["ok"]}, 422),
        ({"text": "ok", "unknown": 1}, 422),
        ({"texts": []}, 422),
        ({"texts": ["ok"] * 2000}, 422),
        ({"texts": ["ok"] * 300}, 422),  # over settings.max_batch_texts (256)
        ({"text": "x" * 30_000}, 422),  # over settings.max_text_chars
        ({"texts": ["ok"] * 9, "explain": True}, 422),  # over explain_max_texts
        ({"text": "y" * 70_000}, 413),  # over max_request_bytes
        ({"texts": ["ok"], "context": ["a turn"]}, 422),  # a batch gives each item its own
        ({"text": "ok", "context": ["a turn"] * 9}, 422),  # over 8 turns
        ({"texts": [{"text": "ok", "context": ["a turn"] * 9}]}, 422),
        ({"text": "ok", "context": [""]}, 422),
        ({"text": "ok", "context": "a turn"}, 422),  # a list of turns, not a string
        ({"text": "ok", "context": ["x" * 30_000]}, 422),  # over settings.max_text_chars
        ({"texts": [{"text": "ok", "unknown": 1}]}, 422),
        ({"texts": [{"context": ["a turn"]}]}, 422),
    ],
)
def test_bad_input_is_4xx_never_5xx(env: Env, body: dict[str, object], status: int) -> None:
    r = env.client.post("/api/v1/sentiment", json=body, headers=env.headers)
    assert r.status_code == status, r.text


def test_lone_surrogate_is_rejected(env: Env) -> None:
    r = env.client.post(
        "/api/v1/sentiment",
        content=b'{"text": "bad \\ud800 text"}',
        headers={**env.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422


def test_control_characters_are_removed_before_scoring(env: Env) -> None:
    clean = env.client.post("/api/v1/sentiment", json={"text": "awful"}, headers=env.headers)
    dirty = env.client.post(
        "/api/v1/sentiment", json={"text": "aw\u200bful\x07"}, headers=env.headers
    )
    assert dirty.json()["predictions"][0]["scores"] == clean.json()["predictions"][0]["scores"]


def test_requires_authentication(env: Env) -> None:
    assert env.client.post("/api/v1/sentiment", json={"text": "ok"}).status_code == 401


def test_new_version_is_swapped_in_and_corrupt_one_refused(own_env: Env) -> None:
    env = own_env
    register(env.tracking_uri, "sentiment", make_onnx_artifact(env.tmp / "s2"), "production")

    def version() -> str:
        r = env.client.post("/api/v1/sentiment", json={"text": "good"}, headers=env.headers)
        assert r.status_code == 200
        return str(r.json()["predictions"][0]["model"]["version"])

    wait_for(lambda: version() == "2")
    corrupt = make_onnx_artifact(env.tmp / "s3")
    (corrupt / "model.onnx").write_bytes(b"not a model")
    register(env.tracking_uri, "sentiment", corrupt, "production")
    sessions = env.factory.sessions

    def refused() -> bool:
        with sessions() as s:
            return (
                s.execute(
                    select(AuditEvent).where(
                        AuditEvent.resource == "model/sentiment/sentiment/3",
                        AuditEvent.outcome == "refused",
                    )
                ).first()
                is not None
            )

    wait_for(refused)
    assert version() == "2"  # the old version keeps serving


def test_a_routed_version_names_the_component_and_language(own_env: Env) -> None:
    env = own_env
    register(env.tracking_uri, "sentiment", make_routed_artifact(env.tmp / "s2"), "production")

    def version() -> str:
        r = env.client.post("/api/v1/sentiment", json={"text": "good"}, headers=env.headers)
        assert r.status_code == 200
        return str(r.json()["predictions"][0]["model"]["version"])

    wait_for(lambda: version() == "2")
    texts = [
        "the film was good",
        "La película es maravillosa y muy emotiva, me encanta good",
        " ".join(["good"] + ["the"] * 20),
    ]
    r = env.client.post("/api/v1/sentiment", json={"texts": texts}, headers=env.headers)
    assert r.status_code == 200, r.text
    models = [p["model"] for p in r.json()["predictions"]]
    assert [(m["version"], m["route"], m["language"]) for m in models] == [
        ("2", "general", "en"),
        ("2", "multilingual", "es"),
        ("2", "long_reviews", "en"),
    ]
    assert all(p["in_domain"] for p in r.json()["predictions"])


def test_prediction_log_keeps_hashes_and_texts_only_on_opt_in(env: Env) -> None:
    texts = ["good and logged", "bad and logged"]
    env.client.post("/api/v1/sentiment", json={"texts": texts}, headers=env.headers)
    sessions = env.factory.sessions
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]

    def rows() -> list[PredictionRecord]:
        with sessions() as s:
            query = select(PredictionRecord).where(PredictionRecord.text_sha256.in_(hashes))
            return list(s.execute(query).scalars())

    wait_for(lambda: len(rows()) == 2)
    logged = rows()
    assert {r.label for r in logged} == {"positive", "negative"}
    assert all(r.text is None and len(r.text_sha256) == 64 for r in logged)
    assert all(r.tenant_id == env.user.tenant.id and r.model_version == "1" for r in logged)


def test_metrics_are_for_platform_admins(env: Env) -> None:
    env.client.post("/api/v1/sentiment", json={"text": "good"}, headers=env.headers)
    assert env.client.get("/api/v1/metrics", headers=env.headers).status_code == 403
    admin = env.factory.account("ops", "prometheus", {Role.PLATFORM_ADMIN})
    r = env.client.get("/api/v1/metrics", headers=env.factory.headers(admin))
    assert r.status_code == 200
    assert 'sentimentops_request_seconds_count{model_version="sentiment/1"' in r.text
    assert "sentimentops_batch_size_bucket" in r.text


def test_stream_scores_messages_and_checks_the_handshake(env: Env) -> None:
    with env.client.websocket_connect("/api/v1/stream", headers=env.headers) as ws:
        ws.send_json({"id": "a", "task": "sentiment", "text": "i love this film"})
        ws.send_json({"id": "b", "task": "sarcasm", "text": "the worst"})
        ws.send_text("{broken")
        ws.send_json({"id": "c", "task": "sarcasm", "text": "good"})
        ws.send_json(
            {"id": "d", "task": "sarcasm", "text": "good", "context": ["the worst boring book"]}
        )
        answers = {m["id"]: m for m in (ws.receive_json() for _ in range(5))}
    assert answers["a"]["prediction"]["label"] == "positive"
    assert answers["a"]["prediction"]["in_domain"] is True
    assert answers["b"]["prediction"]["model"]["name"] == "sarcasm"
    assert answers["b"]["prediction"]["model"]["route"] == "main"
    # A streamed message's context is read like a request's.
    replied = answers["d"]["prediction"]["scores"]["positive"]
    assert replied < answers["c"]["prediction"]["scores"]["positive"]
    assert answers[""]["error"].startswith("invalid message")

    # Refused handshakes answer like REST (tests/inference/test_api_contracts.py has more).
    with (
        pytest.raises(WebSocketDenialResponse) as unauthenticated,
        env.client.websocket_connect("/api/v1/stream"),
    ):
        pass
    assert unauthenticated.value.status_code == 401
    with (
        pytest.raises(WebSocketDenialResponse) as foreign,
        env.client.websocket_connect(
            "/api/v1/stream", headers={**env.headers, "origin": "https://evil.example"}
        ),
    ):
        pass
    assert foreign.value.status_code == 403


def test_prediction_log_stores_texts_for_tenants_that_opted_in(own_env: Env) -> None:
    env = own_env
    sessions = env.factory.sessions
    with db.transaction(sessions) as s:
        tenant = s.get(Tenant, env.user.tenant.id)
        assert tenant is not None
        tenant.store_prediction_texts = True
    env.client.post("/api/v1/sentiment", json={"text": "kept on purpose"}, headers=env.headers)

    def texts() -> list[str | None]:
        with sessions() as s:
            return list(s.execute(select(PredictionRecord.text)).scalars())

    wait_for(lambda: texts() == ["kept on purpose"])
