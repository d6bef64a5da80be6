"""The curation flow on the real database (SQLite and PostgreSQL): a version whose label balance
and schema drift from the previous one opens a data issue with evidence, told through the
webhook notifier; validation failures come back in words; planted label flips are found and
fill the suspected-error score of the queue's items; the data-issues API is tenant-scoped and
open to curators only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.approvals.notifier import WebhookNotifier
from sentimentops.core.errors import Forbidden
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.curation.flows import curate_dataset_flow
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.labeling.models import LabelingItem
from sentimentops.training.datasets.models import DatasetVersion
from tests.apps import fastapi_app
from tests.curation.conftest import MAX_TEXT_CHARS, flow_context, record
from tests.curation.synthetic import labelled
from tests.identity.conftest import Factory
from tests.workflows.conftest import receiver

__all__ = ["receiver"]  # the webhook receiver fixture, used by name

pytestmark = [
    pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True),
    pytest.mark.timeout(300),
]


def _person(tenant: Tenant, name: str, *roles: Role) -> Principal:
    return Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=name,
        name=name,
        kind=PrincipalKind.HUMAN,
        roles=frozenset(roles),
        method=AuthMethod.FIRST_PARTY,
    )


def _versions(
    client: TestClient, settings: Settings, tenant: Tenant
) -> tuple[DatasetVersion, DatasetVersion, set[str], float]:
    """v1: half sarcastic, no split column. v2: 80 % sarcastic, a split column, 10 planted
    flips and one text over the length limit."""
    sessions = fastapi_app(client).state.sessions
    first, _ = labelled(300, flips=0, seed=1)
    v1 = record(sessions, settings, tenant, first)
    second, flipped = labelled(300, flips=10, seed=3, sarcastic_share=0.8)
    second["split"] = "train"
    long_text = "oh great wonderful genius " * (MAX_TEXT_CHARS // 20)
    second.loc[len(second)] = {"id": "long", "text": long_text, "label": 1, "split": "train"}
    v2 = record(sessions, settings, tenant, second)
    return v1, v2, flipped, round(100.0 * float(second["label"].mean()), 2)


def _project_over(client: TestClient, headers: dict[str, str], version: str, who: str) -> str:
    response = client.post(
        "/api/v1/labeling/projects",
        json={
            "name": "headlines queue",
            "task": "sarcasm",
            "annotators": [who],
            "order": "suspected_error",
            "source": {"kind": "dataset", "dataset_id": version},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    project_id: str = response.json()["project"]["id"]
    return project_id


async def test_drift_opens_an_issue_with_evidence_and_suspects_fill_the_queue(
    client: TestClient,
    factory: Factory,
    curation_settings: Settings,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    analyst = factory.account("acme", "ana", {Role.ANALYST})
    tenant = analyst.tenant
    v1, v2, flipped, sarcastic_share = _versions(client, curation_settings, tenant)
    project_id = _project_over(client, factory.headers(analyst), v2.id, analyst.client_id)
    ctx = flow_context(client)
    notifier = WebhookNotifier(receiver[0], allowed_hosts=["127.0.0.1"])
    ana = _person(tenant, analyst.client_id, Role.ANALYST)

    # The first version has nothing to drift from: no issue, no notice.
    first = await curate_dataset_flow(ctx, ana, v1.id, notifier=notifier, propose=False)
    assert (first.drift, first.issue, first.validation_passed) == (None, None, True)
    assert receiver[1] == []

    report = await curate_dataset_flow(ctx, ana, v2.id, notifier=notifier, propose=False)

    # Validation failures, in words, with the offending row.
    assert not report.validation_passed
    [failure] = report.validation_failures
    assert failure.startswith("1 rows break the rule: length between 1 and 70 characters")
    assert "column text" in failure
    assert "oh great wonderful genius" in failure

    # Drift from v1: the sarcastic share went from 50 % to about 80 %, and a column appeared.
    drift = report.drift
    assert drift is not None
    assert drift.previous_version_id == v1.id
    assert drift.kinds == ["label_balance", "schema"]
    assert drift.columns_added == ["split"]
    shares = drift.label_shares
    assert shares["sarcastic"]["before"] == 50.0
    assert sarcastic_share > 75.0  # the given labels, planted flips included
    assert shares["sarcastic"]["after"] == sarcastic_share
    assert shares["sarcastic"]["change"] == pytest.approx(sarcastic_share - 50.0)

    issue = report.issue
    assert issue is not None
    assert (issue.dataset_version_id, issue.previous_version_id) == (v2.id, v1.id)
    assert issue.kinds == ["label_balance", "schema"]
    assert issue.evidence["columns_added"] == ["split"]
    assert issue.evidence["label_shares"]["not_sarcastic"]["change"] == pytest.approx(
        50.0 - sarcastic_share
    )
    assert "Columns added: split." in issue.summary
    assert f"The share of label sarcastic moved from 50.0 % to {sarcastic_share:.1f} %" in (
        issue.summary
    )

    # The notifier was told, once, about this issue.
    [notice] = receiver[1]
    assert notice["kind"] == "data_issue"
    assert notice["issue_id"] == issue.id
    assert notice["kinds"] == ["label_balance", "schema"]
    assert notice["tenant"] == "acme"

    # The planted flips are the suspects, and their queue items carry the scores now.
    suspects = {s.row_id: s for s in report.suspects}
    assert set(suspects) <= flipped
    # Pruning by noise rate is conservative on an 80/20 set: most flips, not all (seeded).
    assert len(suspects) >= 7
    assert report.prioritised_items == len(suspects)
    with fastapi_app(client).state.sessions() as session:
        scored = dict(
            session.execute(
                select(LabelingItem.source_ref, LabelingItem.suspected_error).where(
                    LabelingItem.project_id == project_id,
                    LabelingItem.suspected_error.is_not(None),
                )
            ).all()
        )
    assert scored == {row: s.score for row, s in suspects.items()}
    # The queue serves the most suspect first.
    served = client.get(
        f"/api/v1/labeling/projects/{project_id}/next", headers=factory.headers(analyst)
    )
    assert served.status_code == 200, served.text
    top = max(report.suspects, key=lambda s: s.score)
    with fastapi_app(client).state.sessions() as session:
        item = session.get(LabelingItem, served.json()["item"]["id"])
        assert item is not None
        assert item.source_ref == top.row_id


async def test_data_issues_api_is_for_curators_of_the_tenant(
    client: TestClient,
    factory: Factory,
    curation_settings: Settings,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    analyst = factory.account("acme", "ana", {Role.ANALYST})
    tenant = analyst.tenant
    sessions = fastapi_app(client).state.sessions
    v1 = record(sessions, curation_settings, tenant, labelled(60, flips=0, seed=1)[0])
    v2 = record(
        sessions,
        curation_settings,
        tenant,
        labelled(60, flips=0, seed=2, sarcastic_share=0.2)[0],
    )
    # A webhook on a loopback address that is not allow-listed refuses to send: the issue is
    # stored and listed all the same, and the report says why nobody was told.
    refused = WebhookNotifier(receiver[0])
    ana = _person(tenant, analyst.client_id, Role.ANALYST)
    ctx = flow_context(client)
    report = await curate_dataset_flow(ctx, ana, v2.id, notifier=refused, propose=False)
    assert report.issue is not None
    assert report.issue.kinds == ["label_balance"]
    assert report.issue.previous_version_id == v1.id
    assert report.notice_error is not None
    assert "internal address 127.0.0.1" in report.notice_error
    assert receiver[1] == []
    issue_id = report.issue.id
    # Curating again finds the same open issue; nobody is told twice.
    again = await curate_dataset_flow(
        ctx,
        ana,
        v2.id,
        notifier=WebhookNotifier(receiver[0], allowed_hosts=["127.0.0.1"]),
        propose=False,
    )
    assert again.issue is not None
    assert again.issue.id == issue_id
    assert receiver[1] == []

    for role in (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN):
        headers = factory.headers(factory.account("acme", f"curator-{role.value}", {role}))
        listed = client.get("/api/v1/data-issues", headers=headers)
        assert listed.status_code == 200, listed.text
        assert [i["id"] for i in listed.json()] == [issue_id]
        one = client.get(f"/api/v1/data-issues/{issue_id}", headers=headers)
        assert one.status_code == 200
        assert one.json()["evidence"]["label_shares"]["sarcastic"]["after"] == 20.0
    for role in (Role.VIEWER, Role.ANNOTATOR, Role.APPROVER, Role.AGENT):
        headers = factory.headers(factory.account("acme", f"other-{role.value}", {role}))
        assert client.get("/api/v1/data-issues", headers=headers).status_code == 403
        assert client.get(f"/api/v1/data-issues/{issue_id}", headers=headers).status_code == 403

    # Another tenant's curator sees no issue, and this one is a 404 to them.
    outsider = factory.headers(factory.account("globex", "gina", {Role.TENANT_ADMIN}))
    assert client.get("/api/v1/data-issues", headers=outsider).json() == []
    assert client.get(f"/api/v1/data-issues/{issue_id}", headers=outsider).status_code == 404

    # Curation itself needs a curator's role (checked before anything is read).
    with pytest.raises(Forbidden):
        await curate_dataset_flow(
            flow_context(client), _person(tenant, "vic", Role.VIEWER), v2.id, propose=False
        )
