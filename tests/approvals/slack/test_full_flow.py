"""The whole Slack flow against the real platform (Temporal, OPA, the database, MLflow, the
deterministic planner over the docs' knowledge base) and the Slack stand-in: a mention starts a
planner thread whose steps show in one message updated in place, ending in a draft plan; Submit
starts the plan; the Slack notifier posts its approval request; the person who asked is refused
by policy; another linked approver approves by button; the workflow completes and both
messages say so; a second press changes nothing; the audit log has every press with the Slack
user and the linked account."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client

from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.slack.models import SlackThread
from sentimentops.core.db import transaction
from sentimentops.core.vocabulary import Role
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.tools import promotions
from tests.approvals.slack.conftest import CHANNEL, TEAM, Harness, running_slack_platform
from tests.approvals.slack.stand_in import (
    Message,
    SlackStandIn,
    event_body,
    mention,
    press,
)
from tests.workflows.conftest import TENANT, Platform

pytestmark = pytest.mark.timeout(300)

ALICE, BOB = "U0ALICE01", "U0BOB0001"
CHAT = "C0CHAT0001"


def promote(platform: Platform, task: str, times: int) -> list[str]:
    versions = []
    for _ in range(times):
        version = platform.register_version(task, alias="candidate")
        with transaction(platform.sessions) as session:
            promotions.promote(
                session,
                platform.registry,
                model_name=task,
                version=version,
                alias="production",
                actor="test",
                tenant=TENANT,
            )
        versions.append(version)
    return versions


async def until(stand_in: SlackStandIn, check: object, what: str, within: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not callable(check) or not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def text_of(message: Message) -> str:
    return json.dumps(message.blocks)


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_mention_draft_submit_approve_by_button_completed(
    temporal_client: Client,
    opa_url: str,
    fresh_db_url: str,
    tmp_path: Path,
    stand_in: SlackStandIn,
    docs_knowledge: KnowledgeService,
) -> None:
    async with running_slack_platform(
        temporal_client, opa_url, fresh_db_url, tmp_path, stand_in, docs_knowledge
    ) as (harness, platform):
        await _flow(harness, platform)


async def _flow(harness: Harness, platform: Platform) -> None:
    stand_in = harness.stand_in
    first_version, _old, new = promote(platform, "sarcasm", 3)
    # Alice asks the planner (and could approve other people's plans); Bob approves.
    people = harness.link(
        TENANT,
        TEAM,
        CHANNEL,
        (ALICE, "alice", {Role.ML_ENGINEER, Role.APPROVER}),
        (BOB, "bob", {Role.APPROVER}),
    )

    # 1. A mention starts a planner thread; one message in the Slack thread, updated in place.
    root = "1765000000.000100"
    answered = await harness.send(mention(TEAM, ALICE, CHAT, "roll sarcasm back", root))
    assert answered.status_code == 200, answered.text
    [reply] = stand_in.in_channel(CHAT)
    assert reply.thread_ts == root
    assert reply.updates >= 2  # progress, then the draft
    shown = text_of(reply)
    assert "Draft plan (revision 1)" in shown
    assert "rollback_model" in shown
    assert f"v{new}" in shown  # the diff: which version production moves from
    assert "See docs/runbooks.md" in shown  # the rationale cites the runbook
    [actions] = [b for b in reply.blocks if b["type"] == "actions"]
    draft = json.loads(actions["elements"][0]["value"])
    assert draft["r"] == 1
    assert draft["h"] in shown  # the plan hash is shown
    with harness.sessions() as session:
        [thread] = session.execute(select(SlackThread)).scalars().all()
    assert (thread.team_id, thread.channel_id, thread.thread_ts) == (TEAM, CHAT, root)
    assert thread.agent_thread_id == draft["t"]

    # 2. A message in the Slack thread continues the agent thread: it asks for a revision,
    # shown as the turn's own message. The first draft's buttons now refuse.
    await harness.send(
        mention(TEAM, ALICE, CHAT, "make it two versions back", "1765000000.000200", root)
    )
    first, revised = sorted(stand_in.in_channel(CHAT), key=lambda m: m.ts)
    assert first.ts == reply.ts
    assert revised.thread_ts == root
    assert "Draft plan (revision 2)" in text_of(revised)
    await harness.send(press(TEAM, ALICE, reply, "draft_submit"), form=True)
    assert "revision 1 is not the waiting draft" in stand_in.ephemerals(ALICE)[-1]
    # Only whoever started the thread submits its draft.
    await harness.send(press(TEAM, BOB, revised, "draft_submit"), form=True)
    assert "Nothing was changed" in stand_in.ephemerals(BOB)[-1]
    # Someone else writing in Alice's Slack thread is told to start their own; nothing runs.
    await harness.send(mention(TEAM, BOB, CHAT, "promote it", "1765000000.000250", root))
    assert f"This thread is <@{ALICE}>'s conversation" in stand_in.ephemerals(BOB)[-1]
    assert len(stand_in.in_channel(CHAT)) == 2
    [revision_2] = [b for b in revised.blocks if b["type"] == "actions"]
    draft = json.loads(revision_2["elements"][0]["value"])
    assert draft["r"] == 2
    reply = revised

    # 3. Submit: the plan starts; the draft's message loses its buttons and names the plan.
    await harness.send(press(TEAM, ALICE, reply, "draft_submit"), form=True)
    submitted = stand_in.message(CHAT, reply.ts)
    assert not [b for b in submitted.blocks if b["type"] == "actions"]
    assert f"submitted by <@{ALICE}>" in text_of(submitted)

    # 4. The worker's Slack notifier posts the approval request in the tenant's channel.
    await until(stand_in, lambda: bool(stand_in.in_channel(CHANNEL)), "the approval request")
    [request_message] = stand_in.in_channel(CHANNEL)
    # As a Slack client shows it before any update (a second press comes from this view).
    as_first_shown = copy.deepcopy(request_message)
    assert draft["h"] in text_of(request_message)
    with platform.sessions() as session:
        [request] = session.execute(select(ApprovalRequest)).scalars().all()
    assert request.plan_hash == draft["h"]

    # 5. The person who asked the agent may not approve its plan (the approvals policy).
    await harness.send(press(TEAM, ALICE, request_message, "approval_approve"), form=True)
    assert "Nothing was changed" in stand_in.ephemerals(ALICE)[-1]
    assert platform.alias("production") == new

    # 6. Bob approves by button, with a double click: both presses arrive together, one
    # decides, the other is told it is decided. The workflow runs the rollback and completes.
    await asyncio.gather(
        harness.send(press(TEAM, BOB, request_message, "approval_approve"), form=True),
        harness.send(press(TEAM, BOB, request_message, "approval_approve"), form=True),
    )
    assert "request is approved" in stand_in.ephemerals(BOB)[-1]
    await until(
        stand_in,
        lambda: "completed" in text_of(stand_in.message(CHANNEL, request_message.ts)),
        "the approval message to show the plan completed",
    )
    final = text_of(stand_in.message(CHANNEL, request_message.ts))
    assert f"approved by <@{BOB}>" in final
    assert "approval_approve" not in final  # no buttons left to press
    assert platform.alias("production") == first_version  # two versions back
    await until(
        stand_in,
        lambda: "completed" in text_of(stand_in.message(CHAT, reply.ts)),
        "the submitted draft's message to show the plan completed",
    )

    # The plan's end is shown by its tracked messages: no separate notice of it.
    portal = harness.http.portal
    assert portal is not None
    assert await asyncio.to_thread(portal.call, harness.slack.updater.announce_finished) == 0
    assert len(stand_in.in_channel(CHANNEL)) == 1

    # 7. A later press, from the message as first shown, changes nothing and says why.
    await harness.send(press(TEAM, BOB, as_first_shown, "approval_approve"), form=True)
    assert "request is approved" in stand_in.ephemerals(BOB)[-1]
    with platform.sessions() as session:
        approved = session.execute(
            select(ApprovalRequest).where(ApprovalRequest.id == request.id)
        ).scalar_one()
    assert approved.status == "approved"
    assert approved.decided_by == f"service:{people[BOB].client_id}"
    assert len(harness.audit("approval.approve")) == 1

    # 8. Every press is in the audit log with the Slack user and the linked account.
    presses = [
        (p.details["slack_user"], p.details["account"], p.outcome)
        for p in harness.audit("slack.approval.approve")
    ]
    bob = people[BOB].client_id
    assert presses[0] == (ALICE, people[ALICE].client_id, "refused")
    # The double click's two presses, audited in the order they finished.
    assert sorted(presses[1:3]) == [(BOB, bob, "approved"), (BOB, bob, "refused")]
    assert presses[3:] == [(BOB, bob, "refused")]
    chats = [
        (p.details["slack_user"], p.details["account"], p.outcome)
        for p in harness.audit("slack.chat")
    ]
    assert chats == [
        (ALICE, people[ALICE].client_id, "succeeded"),
        (ALICE, people[ALICE].client_id, "succeeded"),
        (BOB, people[BOB].client_id, "refused"),  # in Alice's thread
    ]
    submits = [
        (p.details["slack_user"], p.outcome, p.details.get("revision"))
        for p in harness.audit("slack.draft.submit")
    ]
    assert submits == [(ALICE, "refused", None), (BOB, "refused", None), (ALICE, "succeeded", 2)]

    # 9. A direct message is a conversation of its own, answered where it was written.
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": ALICE,
        "text": "is the sarcasm model drifting?",
        "ts": "1765000000.000300",
        "channel": "D0ALICE001",
        "event_ts": "1765000000.000300",
    }
    await harness.send(event_body(TEAM, dm))
    [answer] = stand_in.in_channel("D0ALICE001")
    assert answer.thread_ts == dm["ts"]
    assert "drift" in text_of(answer).lower()
    assert not [b for b in answer.blocks if b["type"] == "actions"]
