"""POST /api/v1/feedback on a real app and database: a retried item is stored once, items link to
the logged prediction and the version that served it, and inputs and roles are checked."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.vocabulary import Role
from sentimentops.labeling.models import Feedback
from sentimentops.labeling.schemas import MAX_FEEDBACK_ITEMS
from tests.identity.conftest import Factory
from tests.labeling.conftest import log_prediction, member, store_texts

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

URL = "/api/v1/feedback"


def _rows(factory: Factory) -> list[Feedback]:
    with factory.sessions() as session:
        return list(session.execute(select(Feedback).order_by(Feedback.idempotency_key)).scalars())


def test_a_retried_batch_is_stored_once_and_linked_to_its_predictions(
    client: TestClient, factory: Factory
) -> None:
    app = member(factory, "acme", "checkout-app", Role.VIEWER)
    tenant = app.account.tenant
    log_prediction(
        factory, tenant, "the film was fine", version="3", label="positive", probability=0.55
    )
    log_prediction(
        factory,
        tenant,
        "the film was fine",
        version="4",
        label="negative",
        probability=0.7,
        alias="staging",
    )
    log_prediction(factory, tenant, "dull and long", version="3", label="positive", probability=0.8)
    dull_hash = hashlib.sha256(b"dull and long").hexdigest()
    batch: dict[str, Any] = {
        "items": [
            {
                "idempotency_key": "k1",
                "task": "sentiment",
                "label": "negative",
                "text": "the film was fine",
                "request_id": "req-1",
            },
            {
                "idempotency_key": "k2",
                "task": "sentiment",
                "label": "negative",
                "text_sha256": dull_hash,
            },
            {
                "idempotency_key": "k3",
                "task": "sentiment",
                "label": "negative",
                "text": "the film was fine",
                "model_version": "4",
            },
            {
                "idempotency_key": "k4",
                "task": "sarcasm",
                "label": "sarcastic",
                "text": "never scored",
            },
            {
                "idempotency_key": "k1",
                "task": "sentiment",
                "label": "negative",
                "text": "the film was fine",
            },
        ]
    }
    first = client.post(URL, json=batch, headers=app.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["duplicates"]) == (4, 1)
    by_key = {i["feedback"]["idempotency_key"]: i["feedback"] for i in body["items"]}
    # k1: the production model's answer; k3 names the canary's version; k4 has no prediction.
    assert (by_key["k1"]["model_version"], by_key["k1"]["predicted_label"]) == ("3", "positive")
    assert by_key["k1"]["request_id"] == "req-1"
    assert (by_key["k2"]["model_version"], by_key["k2"]["predicted_label"]) == ("3", "positive")
    assert (by_key["k3"]["model_version"], by_key["k3"]["predicted_label"]) == ("4", "negative")
    assert by_key["k3"]["prediction_id"] != by_key["k1"]["prediction_id"]
    assert (by_key["k4"]["prediction_id"], by_key["k4"]["model_version"]) == (None, None)
    assert body["items"][4]["created"] is False
    assert body["items"][4]["feedback"]["id"] == body["items"][0]["feedback"]["id"]

    retried = client.post(URL, json=batch, headers=app.headers)
    assert retried.status_code == 200
    assert (retried.json()["created"], retried.json()["duplicates"]) == (0, 5)
    assert [i["feedback"]["id"] for i in retried.json()["items"]] == [
        i["feedback"]["id"] for i in body["items"]
    ]
    rows = _rows(factory)
    assert [r.idempotency_key for r in rows] == ["k1", "k2", "k3", "k4"]
    # The tenant does not store prediction texts, so feedback keeps only the hash.
    assert all(r.text is None for r in rows)
    with factory.sessions() as session:
        audited = session.execute(
            select(func.count()).where(AuditEvent.action == "labeling.feedback")
        ).scalar_one()
    assert audited == 2


def test_a_key_reused_for_other_feedback_is_refused_and_nothing_is_stored(
    client: TestClient, factory: Factory
) -> None:
    app = member(factory, "acme", "checkout-app", Role.VIEWER)
    store_texts(factory, app.account.tenant)
    one = {"idempotency_key": "k1", "task": "sentiment", "label": "negative", "text": "meh"}
    assert client.post(URL, json={"items": [one]}, headers=app.headers).status_code == 200
    changed = {**one, "label": "positive"}
    fresh = {**one, "idempotency_key": "k2"}
    refused = client.post(URL, json={"items": [fresh, changed]}, headers=app.headers)
    assert refused.status_code == 409
    assert "k1" in refused.json()["detail"]
    rows = _rows(factory)
    assert [(r.idempotency_key, r.label, r.text) for r in rows] == [("k1", "negative", "meh")]


def test_feedback_inputs_and_roles_are_checked(client: TestClient, factory: Factory) -> None:
    app = member(factory, "acme", "checkout-app", Role.VIEWER)
    agent = member(factory, "acme", "an-agent", Role.AGENT)
    item = {"idempotency_key": "k", "task": "sentiment", "label": "negative", "text": "meh"}

    def post(items: list[dict[str, Any]], headers: dict[str, str] = app.headers) -> int:
        return client.post(URL, json={"items": items}, headers=headers).status_code

    assert post([item], agent.headers) == 403
    assert post([{**item, "label": "sarcastic"}]) == 422  # not a sentiment label
    assert post([{**item, "text": None}]) == 422  # neither text nor hash
    assert post([{**item, "text_sha256": "0" * 64}]) == 422  # not the text's hash
    assert post([{**item, "idempotency_key": "x" * 129}]) == 422
    assert post([{**item, "text": "x" * 20_001}]) == 422  # over SENTIMENTOPS_MAX_TEXT_CHARS
    assert post([]) == 422
    hashed = {**item, "text": None, "text_sha256": "0" * 64}
    many = [{**hashed, "idempotency_key": f"k{i}"} for i in range(MAX_FEEDBACK_ITEMS + 1)]
    assert post(many) == 422  # over the batch limit, before any work
    assert _rows(factory) == []
    assert post([item]) == 200
