"""Callers at the same moment, each in its own transaction and thread (on PostgreSQL truly
concurrent): a single-overlap item is never locked to two annotators, and a batch of feedback
sent twice at once is stored once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sentimentops.core import db
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.keys import utcnow
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.labeling import flows, service
from sentimentops.labeling.models import Feedback
from sentimentops.labeling.schemas import FeedbackBatch, FeedbackReceipt
from tests.apps import fastapi_app
from tests.identity.conftest import Factory
from tests.labeling.conftest import ingest, member, project_body

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

ANNOTATORS = 8
TEXTS = ["bright", "dull", "tender", "shrill"]


def test_concurrent_next_calls_never_share_an_item(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    dataset = ingest(client, curator, [(f"a {t} film", i % 2) for i, t in enumerate(TEXTS)])
    names = [f"ann-{n}" for n in range(ANNOTATORS)]
    body = project_body({"kind": "dataset", "dataset_id": dataset}, names)
    created = client.post("/api/v1/labeling/projects", json=body, headers=curator.headers)
    project_id = created.json()["project"]["id"]
    tenant = curator.account.tenant
    start = threading.Barrier(ANNOTATORS)

    def take(name: str) -> str:
        principal = Principal(
            tenant_id=tenant.id,
            tenant=tenant.slug,
            subject=name,
            name=name,
            kind=PrincipalKind.HUMAN,
            roles=frozenset({Role.ANNOTATOR}),
            method=AuthMethod.FIRST_PARTY,
        )
        start.wait()
        with db.transaction(factory.sessions) as session:
            project = service.get_project(session, principal=principal, project_id=project_id)
            served = service.next_item(
                session,
                principal=principal,
                project=project,
                now=utcnow(),
                lock_for=timedelta(minutes=5),
            )
            return served.item.id if served.item is not None else served.state

    with ThreadPoolExecutor(ANNOTATORS) as pool:
        results = list(pool.map(take, names))
    items = [r for r in results if r not in ("wait", "done")]
    assert len(items) == len(TEXTS)
    assert len(set(items)) == len(TEXTS)
    assert results.count("wait") == ANNOTATORS - len(TEXTS)


def test_the_same_batch_sent_twice_at_once_is_stored_once(
    client: TestClient, factory: Factory
) -> None:
    app = member(factory, "acme", "checkout-app", Role.VIEWER)
    tenant = app.account.tenant
    principal = Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=app.id,
        name="checkout-app",
        kind=PrincipalKind.SERVICE,
        roles=frozenset({Role.VIEWER}),
        method=AuthMethod.FIRST_PARTY,
    )
    batch = FeedbackBatch.model_validate(
        {
            "items": [
                {"idempotency_key": f"k{n}", "task": "sentiment", "label": "negative", "text": t}
                for n, t in enumerate(TEXTS)
            ]
        }
    )
    ctx = fastapi_app(client).state.flows
    start = threading.Barrier(2)

    def send(_: int) -> FeedbackReceipt:
        start.wait()
        return asyncio.run(flows.submit_feedback_flow(ctx, principal, batch))

    with ThreadPoolExecutor(2) as pool:
        receipts = list(pool.map(send, range(2)))
    assert sorted(r.created for r in receipts) == [0, len(TEXTS)]
    ids = [[i.feedback.id for i in r.items] for r in receipts]
    assert ids[0] == ids[1]
    with factory.sessions() as session:
        stored = session.execute(select(func.count()).select_from(Feedback)).scalar_one()
    assert stored == len(TEXTS)
