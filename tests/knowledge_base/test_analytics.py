"""/api/v1/search over a real app, database, MiniLM encoder and Qdrant local mode: similar texts
and topics over the caller's tenant's scored texts, for tenants that store them only, never
another tenant's; the cache embeds only new rows and forgets deleted ones; limits are 422."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core import db
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.inference.models import PredictionRecord
from sentimentops.knowledge_base.analytics import TextAnalytics
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings
from tests.knowledge_base.conftest import CountingEncoder

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

MAX_TEXTS = 40
SIMILAR = "/api/v1/search/similar"
TOPICS = "/api/v1/search/topics"

DELAYED_FLIGHT = "My flight was delayed for five hours and nobody told us why."
PARAPHRASE = "Nobody explained why our plane took off five hours late."
OTHER_TEXTS = [
    "The soup arrived cold and the waiter never came back.",
    "The app crashes every time I open the settings page.",
    "My parcel was left in the rain and the box fell apart.",
    "Still waiting for my refund three weeks after returning the shoes.",
    "The hotel room smelled of smoke and the sheets were stained.",
]
FLIGHT_DELAYS = [
    "My flight was delayed for five hours and nobody told us why.",
    "Delayed again! The 8am flight left at 2pm.",
    "Our plane sat on the runway for three hours before takeoff.",
    "The connecting flight was cancelled after a four hour delay.",
    "Another delay, the departure board kept changing the time all night.",
    "We missed our wedding because the flight was delayed twice.",
    "Boarding was pushed back hour after hour with no explanation.",
    "The flight to Boston was late by six hours, terrible scheduling.",
    "Delays every single time I fly with this airline.",
    "The plane departed four hours after the scheduled time.",
]
RUDE_STAFF = [
    "The gate agent was incredibly rude and shouted at my mother.",
    "Flight attendants were rude and ignored us the whole trip.",
    "The staff at the check-in desk were condescending and unhelpful.",
    "A crew member rolled her eyes and mocked my accent.",
    "The customer service rep hung up on me twice, so rude.",
    "Worst attitude from the cabin crew I have ever seen.",
    "The employee at the counter was rude and refused to help.",
    "Staff were impolite and laughed at a passenger in a wheelchair.",
    "The steward was hostile when I asked for water.",
    "Rude, arrogant staff who treat passengers like cattle.",
]
PRAISE = [
    "The crew were lovely and the flight landed early.",
    "Smooth flight, friendly staff, great snacks.",
]


@pytest.fixture
def kb_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    # A small per-call bound, so that the limit is reached with a few dozen rows.
    return make_settings(fresh_db_url, tmp_path / "data", search_max_texts=MAX_TEXTS)


def log(
    sessions: sessionmaker[Session],
    tenant_id: str,
    texts: Sequence[str],
    *,
    task: str = "sentiment",
    label: str = "negative",
    ago: timedelta = timedelta(minutes=5),
    stored: bool = True,
) -> list[int]:
    """Rows of the prediction log as the scoring service writes them; their ids."""
    when = datetime.now(UTC) - ago
    rows = [
        PredictionRecord(
            tenant_id=tenant_id,
            created_at=when + timedelta(milliseconds=i),
            task=task,
            model_name=task,
            model_version="3",
            model_alias="production",
            label=label,
            probability=0.9,
            latency_ms=1.5,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            text_chars=len(text),
            text=text if stored else None,
        )
        for i, text in enumerate(texts)
    ]
    with db.transaction(sessions) as session:
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def opt_in(client: TestClient, factory: Factory, *tenant_ids: str) -> None:
    """Through the API, as the refusal's message says."""
    root = factory.headers(factory.account("platform", "root", {Role.PLATFORM_ADMIN}))
    for tenant_id in tenant_ids:
        response = client.patch(
            f"/api/v1/tenants/{tenant_id}", json={"store_prediction_texts": True}, headers=root
        )
        assert response.status_code == 200, response.text
        assert response.json()["store_prediction_texts"] is True


def post(client: TestClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def analytics_of(client: TestClient) -> TextAnalytics:
    analytics: TextAnalytics = fastapi_app(client).state.text_analytics
    return analytics


def test_similar_finds_the_paraphrase_first_among_the_callers_texts_only(
    kb_client: TestClient, kb_factory: Factory, counting: CountingEncoder
) -> None:
    a = kb_factory.account("tenant-a", "a-analyst", {Role.ANALYST})
    b = kb_factory.account("tenant-b", "b-admin", {Role.TENANT_ADMIN})
    a_id, b_id = a.tenant.id, b.tenant.id
    opt_in(kb_client, kb_factory, a_id, b_id)
    [delayed, *others] = log(kb_factory.sessions, a_id, [DELAYED_FLIGHT, *OTHER_TEXTS])
    [sarcastic] = log(kb_factory.sessions, a_id, ["Oh great, another delay."], task="sarcasm")
    [old] = log(
        kb_factory.sessions,
        a_id,
        ["Five hour flight delay, no reason given."],
        ago=timedelta(days=9),
    )
    [twin] = log(kb_factory.sessions, b_id, [PARAPHRASE])  # tenant b's copy of the query itself
    headers = kb_factory.headers(a)

    found = post(
        kb_client, SIMILAR, headers, text=PARAPHRASE, window_seconds=7 * 86400, task="sentiment"
    )
    ids = [r["prediction_id"] for r in found["results"]]
    assert ids[0] == delayed
    assert set(ids) == {delayed, *others}  # not b's twin, not the sarcasm row, not the old one
    assert found["searched"] == 6
    assert found["complete"] is True
    first = found["results"][0]
    assert first["text"] == DELAYED_FLIGHT
    assert (first["label"], first["model_version"], first["task"]) == ("negative", "3", "sentiment")
    assert first["probability"] == 0.9
    assert first["similarity"] > 0.6 > found["results"][1]["similarity"]

    # Without the task filter and with a longer window, the other rows come in.
    wide = post(kb_client, SIMILAR, headers, text=PARAPHRASE, window_seconds=30 * 86400, limit=50)
    assert {r["prediction_id"] for r in wide["results"]} == {delayed, *others, sarcastic, old}
    b_found = post(kb_client, SIMILAR, kb_factory.headers(b), text=PARAPHRASE)
    assert [r["prediction_id"] for r in b_found["results"]] == [twin]
    assert b_found["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)

    # Cached: asking again embeds the query only; a new row is embedded once.
    counting.embedded = 0
    post(kb_client, SIMILAR, headers, text=PARAPHRASE)
    assert counting.embedded == 1
    [late] = log(
        kb_factory.sessions, a_id, ["The plane left five hours late and nobody explained why."]
    )
    counting.embedded = 0
    again = post(kb_client, SIMILAR, headers, text=PARAPHRASE, window_seconds=7 * 86400, limit=2)
    assert counting.embedded == 2
    assert {r["prediction_id"] for r in again["results"]} == {late, delayed}

    # A row deleted from the log (retention) is never answered again, and leaves the cache.
    index = analytics_of(kb_client).index()
    assert index.count(a_id) == 9
    with db.transaction(kb_factory.sessions) as session:
        session.execute(delete(PredictionRecord).where(PredictionRecord.id.in_([delayed, old])))
    after = post(kb_client, SIMILAR, headers, text=PARAPHRASE, limit=50)
    assert delayed not in {r["prediction_id"] for r in after["results"]}
    assert index.count(a_id) == 7
    assert index.count(b_id) == 1

    # Each query is audited: who, which tenant, what kind; never the text.
    with kb_factory.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "search.similar")
        events = list(session.execute(query.order_by(AuditEvent.seq)).scalars())
    assert len(events) == 6
    assert {e.tenant for e in events} == {"tenant-a", "tenant-b"}
    assert all(e.outcome == "succeeded" for e in events)
    assert events[0].details["task"] == "sentiment"
    assert events[0].details["results"] == 6
    assert all("five hours" not in str(e.details) for e in events)


def test_only_text_readers_of_tenants_that_store_texts_may_search(
    kb_client: TestClient, kb_factory: Factory
) -> None:
    analyst = kb_factory.account("tenant-a", "a-analyst", {Role.ANALYST})
    log(kb_factory.sessions, analyst.tenant.id, ["hashes only"], stored=False)
    headers = kb_factory.headers(analyst)
    topics = {"task": "sentiment", "label": "negative", "window_seconds": 3600}

    for path, body in ((SIMILAR, {"text": "anything"}), (TOPICS, topics)):
        refused = kb_client.post(path, json=body, headers=headers)
        assert refused.status_code == 409
        assert refused.json()["error"] == "Conflict"
        assert "not stored for tenant tenant-a" in refused.json()["detail"]
        assert '{"store_prediction_texts": true}' in refused.json()["detail"]
    with kb_factory.sessions() as session:
        outcomes = session.execute(
            select(AuditEvent.action, AuditEvent.outcome).where(AuditEvent.tenant == "tenant-a")
        ).all()
    assert {("search.similar", "refused"), ("search.topics", "refused")} <= set(outcomes)

    opt_in(kb_client, kb_factory, analyst.tenant.id)
    assert post(kb_client, SIMILAR, headers, text="anything")["results"] == []
    for role in (Role.VIEWER, Role.AGENT, Role.ANNOTATOR, Role.APPROVER):
        other = kb_factory.headers(kb_factory.account("tenant-a", f"a-{role.value}", {role}))
        assert kb_client.post(SIMILAR, json={"text": "x"}, headers=other).status_code == 403
        assert kb_client.post(TOPICS, json=topics, headers=other).status_code == 403
    for role in (Role.ML_ENGINEER, Role.TENANT_ADMIN):
        reader = kb_factory.headers(kb_factory.account("tenant-a", f"a-{role.value}", {role}))
        assert kb_client.post(SIMILAR, json={"text": "x"}, headers=reader).status_code == 200
    assert kb_client.post(SIMILAR, json={"text": "x"}).status_code == 401


def test_topics_separate_two_planted_themes(kb_client: TestClient, kb_factory: Factory) -> None:
    a = kb_factory.account("tenant-a", "a-eng", {Role.ML_ENGINEER})
    b = kb_factory.account("tenant-b", "b-eng", {Role.ML_ENGINEER})
    opt_in(kb_client, kb_factory, a.tenant.id, b.tenant.id)
    # Interleaved in time, so that the order of the log does not give the answer away.
    delays, rude = [], []
    for i, (flight, staff) in enumerate(zip(FLIGHT_DELAYS, RUDE_STAFF, strict=True)):
        delays += log(kb_factory.sessions, a.tenant.id, [flight], ago=timedelta(hours=20 - i))
        rude += log(
            kb_factory.sessions, a.tenant.id, [staff], ago=timedelta(hours=19 - i, minutes=30)
        )
    log(kb_factory.sessions, a.tenant.id, PRAISE, label="positive")
    log(kb_factory.sessions, a.tenant.id, ["Lost luggage, never found."], ago=timedelta(days=3))
    log(kb_factory.sessions, b.tenant.id, ["The pilot was rude to everyone on board."] * 5)
    body = {"task": "sentiment", "label": "negative", "window_seconds": 86400, "max_topics": 6}

    result = post(kb_client, TOPICS, kb_factory.headers(a), **body)
    assert (result["texts"], result["task"], result["label"]) == (20, "sentiment", "negative")
    assert [(t["size"], t["share"]) for t in result["topics"]] == [(10, 0.5), (10, 0.5)]
    by_theme = {}
    for topic in result["topics"]:
        examples = {e["prediction_id"] for e in topic["examples"]}
        assert len(examples) == 3
        theme = "delays" if examples <= set(delays) else "rude"
        assert examples <= set(delays if theme == "delays" else rude)
        by_theme[theme] = topic
        similarities = [e["similarity"] for e in topic["examples"]]
        assert similarities == sorted(similarities, reverse=True)
    assert {"delayed", "flight"} <= set(by_theme["delays"]["keywords"])
    assert {"rude", "staff"} <= set(by_theme["rude"]["keywords"])

    # Deterministic: the same window groups the same way; one topic when asked for one.
    again = post(kb_client, TOPICS, kb_factory.headers(a), **body)
    assert again["topics"] == result["topics"]
    [single] = post(kb_client, TOPICS, kb_factory.headers(a), **{**body, "max_topics": 1})["topics"]
    assert single["size"] == 20
    assert single["share"] == 1.0
    sarcasm = post(kb_client, TOPICS, kb_factory.headers(a), **{**body, "task": "sarcasm"})
    assert (sarcasm["texts"], sarcasm["topics"]) == (0, [])


def test_limits_are_422(kb_client: TestClient, kb_factory: Factory) -> None:
    analyst = kb_factory.account("tenant-a", "a-analyst", {Role.ANALYST})
    opt_in(kb_client, kb_factory, analyst.tenant.id)
    headers = kb_factory.headers(analyst)
    topics = {"task": "sentiment", "label": "negative", "window_seconds": 3600}

    def status(path: str, **body: Any) -> int:
        return kb_client.post(path, json=body, headers=headers).status_code

    assert status(SIMILAR, text="x", limit=51) == 422
    assert status(SIMILAR, text="x", limit=0) == 422
    assert status(SIMILAR, text="") == 422
    assert status(SIMILAR, text="x" * 5001) == 422
    assert status(SIMILAR, text="x", window_seconds=59) == 422
    assert status(SIMILAR, text="x", window_seconds=367 * 86400) == 422
    assert status(SIMILAR, text="x", task="emotion") == 422
    assert status(SIMILAR, text="x", tenant_id="another") == 422  # no filter from the request
    assert status(TOPICS, **{**topics, "max_topics": 13}) == 422
    assert status(TOPICS, **{**topics, "label": "Negative; drop"}) == 422
    assert status(TOPICS, task="sentiment", label="negative") == 422  # the window is required

    # More texts in the window than one call reads: topics refuse, similar searches the newest.
    ids = log(kb_factory.sessions, analyst.tenant.id, [f"complaint number {i}" for i in range(45)])
    too_many = kb_client.post(TOPICS, json=topics, headers=headers)
    assert too_many.status_code == 422
    assert "holds 45 sentiment texts labelled negative" in too_many.json()["detail"]
    assert "SENTIMENTOPS_SEARCH_MAX_TEXTS" in too_many.json()["detail"]
    found = post(kb_client, SIMILAR, headers, text="complaint number 2", limit=50)
    assert (found["searched"], found["complete"]) == (MAX_TEXTS, False)
    assert {r["prediction_id"] for r in found["results"]} == set(ids[-MAX_TEXTS:])
    assert post(kb_client, TOPICS, headers, **{**topics, "window_seconds": 60})["texts"] == 0
