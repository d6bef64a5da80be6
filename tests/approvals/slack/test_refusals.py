"""Who may press: an approval request posted by the Slack notifier, pressed by people who may not
decide it (unlinked, no approver role, its proposer, another tenant's approver), with a plan hash
that changed, after it expired, with a forged signature. Each press gets a clear ephemeral
message, changes nothing, and is audited with the Slack user and the account it acted as."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from sentimentops.approvals import service as approvals
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.notifier import ApprovalNotice
from sentimentops.core.db import transaction
from sentimentops.core.vocabulary import Role
from tests.approvals.slack.conftest import (
    CHANNEL,
    OTHER_CHANNEL,
    OTHER_TEAM,
    TEAM,
    Harness,
    slack_notifier,
)
from tests.approvals.slack.stand_in import Message, press, signed, submit_view
from tests.identity.conftest import Account

PLAN_HASH = "a" * 64
ALICE, BOB, VIEWER, STRANGER, GLOBEX = (
    "U0ALICE01",
    "U0BOB0001",
    "U0VIEW001",
    "U0STRANGE",
    "U0GLOBEX1",
)


def _request(harness: Harness, proposer: Account, *, ttl: float = 3600) -> ApprovalRequest:
    with transaction(harness.sessions) as session:
        return approvals.create_request(
            session,
            tenant="acme",
            workflow_id="plan-slack-refusals",
            plan_hash=PLAN_HASH,
            step_index=0,
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": "3"},
            requester=proposer.client_id,
            requester_kind="service",
            rationale="promote v3",
            reasons=["promotion to production needs an approver"],
            ttl_seconds=ttl,
        )


async def _post(harness: Harness, row: ApprovalRequest) -> Message:
    """The approval message as the worker's Slack notifier posts it."""
    await slack_notifier(harness).notify(
        ApprovalNotice(
            approval_id=row.id,
            tenant="acme",
            expires_at=row.expires_at,
            workflow_id=row.workflow_id,
            plan_hash=row.plan_hash,
            step_index=row.step_index,
            tool=row.tool,
            params=row.params,
            requester=row.requester,
            rationale=row.rationale,
            reasons=row.reasons,
        )
    )
    [message] = harness.stand_in.in_channel(CHANNEL)
    return message


def _status(harness: Harness, approval_id: str) -> str:
    with harness.sessions() as session:
        row = session.get(ApprovalRequest, approval_id)
        assert row is not None
        return row.status


def _expire(session: Session, approval_id: str) -> None:
    row = session.get(ApprovalRequest, approval_id)
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_presses_that_may_not_decide_change_nothing(harness: Harness) -> None:
    people = harness.link(
        "acme",
        TEAM,
        CHANNEL,
        (ALICE, "alice", {Role.ML_ENGINEER, Role.APPROVER}),
        (BOB, "bob", {Role.APPROVER}),
        (VIEWER, "viewer", {Role.VIEWER}),
    )
    harness.link("globex", OTHER_TEAM, OTHER_CHANNEL, (GLOBEX, "gx", {Role.APPROVER}))
    row = _request(harness, people[ALICE])
    message = await _post(harness, row)
    # The notifier's message: the step, the plan hash, links, and buttons bound to id and hash.
    shown = json.dumps(message.blocks)
    assert PLAN_HASH in shown
    assert "https://ops.example.test/plans/plan-slack-refusals" in shown
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    values = {json.loads(e["value"])["a"] for e in actions["elements"]}
    assert values == {row.id}

    cases = [
        (TEAM, STRANGER, None, "not linked"),
        (TEAM, VIEWER, None, "requires one of the roles: approver"),
        (TEAM, ALICE, None, "the proposer of a plan cannot approve it"),
        # Another tenant's approver, with acme's button in their own workspace.
        (OTHER_TEAM, GLOBEX, None, "approval request not found"),
        # A button of a plan that changed since: its hash is not the request's.
        (TEAM, BOB, json.dumps({"a": row.id, "h": "b" * 64}), "the plan changed"),
        # A value the app never wrote.
        (TEAM, BOB, '{"a": ["x"]}', "not one the app wrote"),
    ]
    for team, user, value, expected in cases:
        response = await harness.send(
            press(team, user, message, "approval_approve", value), form=True
        )
        assert response.status_code == 200, response.text
        [said] = harness.stand_in.ephemerals(user)[-1:]
        assert expected in said, (user, said)
        assert "Nothing was changed" in said
        assert _status(harness, row.id) == "pending"

    # A forged press (wrong signature) is refused before anything runs.
    body = press(TEAM, BOB, message, "approval_approve")
    forged = await harness.send(body, form=True, headers=signed(body, secret="x" * 32))
    assert forged.status_code == 401

    # Each refused press is audited with the Slack user and the account it acted as.
    presses = harness.audit("slack.approval.approve")
    assert [p.outcome for p in presses] == ["refused"] * len(cases)
    by_user = {p.details["slack_user"]: p for p in presses}
    assert by_user[STRANGER].actor == f"slack:{TEAM}/{STRANGER}"
    assert by_user[STRANGER].details["account"] is None
    assert by_user[STRANGER].tenant == "acme"
    assert by_user[ALICE].details["account"] == people[ALICE].client_id
    assert by_user[ALICE].actor == f"service:{people[ALICE].client_id}"
    assert by_user[GLOBEX].tenant == "globex"
    # The decision flow audits its own refusals too (the proposer's, the stale hash's).
    refused = [e for e in harness.audit("approval.decide") if e.outcome == "refused"]
    assert len(refused) >= 2
    # The message still offers its buttons: nothing was decided.
    assert harness.stand_in.message(CHANNEL, message.ts).blocks == message.blocks


async def test_expired_and_superseded_requests_refuse_and_reject_asks_why(
    harness: Harness,
) -> None:
    people = harness.link(
        "acme", TEAM, CHANNEL, (ALICE, "alice", {Role.ML_ENGINEER}), (BOB, "bob", {Role.APPROVER})
    )
    row = _request(harness, people[ALICE])
    message = await _post(harness, row)

    # Reject opens a modal asking why (views.open with the press's trigger id).
    await harness.send(press(TEAM, BOB, message, "approval_reject"), form=True)
    [opened] = harness.stand_in.of("views.open")
    view = opened.args["view"]
    assert view["type"] == "modal"
    assert json.loads(view["private_metadata"]) == {
        "a": row.id,
        "h": PLAN_HASH,
        "c": CHANNEL,
        "ts": message.ts,
    }
    # By the time the reason is submitted, the request has expired: refused, marked expired.
    with transaction(harness.sessions) as session:
        _expire(session, row.id)
    answer = await harness.send(submit_view(TEAM, BOB, view, "too risky <!channel>"), form=True)
    assert answer.status_code == 200, answer.text
    [said] = harness.stand_in.ephemerals(BOB)
    assert "request expired" in said
    assert _status(harness, row.id) == "expired"
    [audited] = harness.audit("slack.approval.reject")
    assert audited.outcome == "refused"
    assert audited.details["slack_user"] == BOB
    assert audited.details["account"] == people[BOB].client_id

    # A superseded request (the plan was amended): its old buttons say so.
    second = _request(harness, people[ALICE])
    with transaction(harness.sessions) as session:
        approvals.close_request(session, approval_id=second.id, status="superseded", actor="test")
    value = json.dumps({"a": second.id, "h": PLAN_HASH})
    await harness.send(press(TEAM, BOB, message, "approval_approve", value), form=True)
    assert "the plan changed" in harness.stand_in.ephemerals(BOB)[-1]
    assert _status(harness, second.id) == "superseded"
