"""Annotators asking for items at the same moment, each in its own transaction and thread (on
PostgreSQL truly concurrent): a single-overlap item is never locked to two of them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sentimentops.core import db
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.keys import utcnow
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.labeling import service
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
