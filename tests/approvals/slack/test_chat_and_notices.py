"""Chat refusals before any agent runs (unlinked, too long, empty), the Slack notifier (incidents,
a tenant without a workspace, alongside the webhook), and the updater letting go of a message
Slack no longer has."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from sentimentops.approvals.notifier import ApprovalNotice, IncidentNotice, build_notifier
from sentimentops.approvals.slack.models import SlackMessage, SlackThread
from sentimentops.approvals.slack.notifier import SlackNotifier
from sentimentops.core.db import transaction
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from tests.approvals.slack.conftest import CHANNEL, TEAM, Harness, slack_notifier
from tests.approvals.slack.stand_in import mention
from tests.apps import fastapi_app
from tests.workflows.conftest import receiver

__all__ = ["receiver"]

ALICE, STRANGER = "U0ALICE01", "U0STRANGE"


def _settings(harness: Harness) -> Settings:
    settings: Settings = fastapi_app(harness.http).state.settings
    return settings


async def test_chat_refusals_run_no_agent(harness: Harness) -> None:
    harness.link("acme", TEAM, CHANNEL, (ALICE, "alice", {Role.ML_ENGINEER}))
    chat = "C0CHAT0001"
    stranger_asks = mention(TEAM, STRANGER, chat, "roll sarcasm back", "1765000000.000001")
    await harness.send(stranger_asks)
    assert "not linked" in harness.stand_in.ephemerals(STRANGER)[-1]
    # Slack's redelivery of the same event (same event id, signed anew) is not handled twice.
    await harness.send(stranger_asks)
    assert len(harness.stand_in.ephemerals(STRANGER)) == 1
    await harness.send(mention(TEAM, ALICE, chat, "x" * 4001, "1765000000.000002"))
    assert "too long" in harness.stand_in.ephemerals(ALICE)[-1]
    await harness.send(mention(TEAM, ALICE, chat, "   ", "1765000000.000003"))
    assert "Ask me something" in harness.stand_in.ephemerals(ALICE)[-1]
    # No thread was opened and nothing was posted in the channel.
    assert harness.stand_in.of("chat.postMessage") == []
    with harness.sessions() as session:
        assert session.execute(select(SlackThread)).first() is None
    [refused] = harness.audit("slack.chat")
    assert (refused.actor, refused.outcome) == (f"slack:{TEAM}/{STRANGER}", "refused")


async def test_incidents_go_to_the_tenants_channel_and_nowhere_without_one(
    harness: Harness,
) -> None:
    harness.factory.tenant("globex")  # no workspace: told nothing in Slack
    harness.link("acme", TEAM, CHANNEL)
    notifier = slack_notifier(harness)
    incident = IncidentNotice(
        tenant="acme",
        task="sarcasm",
        check_id="sentry-acme-sarcasm-1",
        status="completed",
        rolled_back=True,
        summary="p95 latency 480 ms > 250 ms <!channel> rolled back to v2",
        thread_id="f" * 32,
        workflow_url="http://127.0.0.1:8233/namespaces/default/workflows/sentry-acme-sarcasm-1",
    )
    await notifier.notify(incident)
    await notifier.notify(incident.model_copy(update={"tenant": "globex"}))
    [posted] = harness.stand_in.of("chat.postMessage")
    assert posted.args["channel"] == CHANNEL
    shown = json.dumps(posted.args["blocks"])
    assert "sarcasm rolled back" in shown
    assert "&lt;!channel&gt;" in shown
    assert "<!channel>" not in shown
    assert "f" * 32 in shown
    assert (
        "<http://127.0.0.1:8233/namespaces/default/workflows/sentry-acme-sarcasm-1|Temporal>"
        in shown
    )


async def test_the_webhook_is_still_called_beside_slack(
    harness: Harness, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    harness.link("acme", TEAM, CHANNEL)
    url, received = receiver
    settings = _settings(harness).model_copy(
        update={"approval_webhook_url": url, "webhook_allowed_hosts": ["127.0.0.1"]}
    )
    notifier = build_notifier(settings)
    assert isinstance(notifier, SlackNotifier)
    notice = ApprovalNotice(
        approval_id="0" * 32,
        tenant="acme",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        workflow_id="plan-webhook-and-slack",
        plan_hash="c" * 64,
        step_index=1,
        tool="set_canary",
        params={"task": "sentiment", "share": 0.1},
        requester="alice",
        rationale="canary",
        reasons=["canary changes need an approver"],
    )
    await notifier.notify(notice)
    assert [r["approval_id"] for r in received] == ["0" * 32]
    [message] = harness.stand_in.in_channel(CHANNEL)
    assert "Approval needed: set_canary (step 2)" in json.dumps(message.blocks)


async def test_the_updater_lets_go_of_a_message_slack_no_longer_has(harness: Harness) -> None:
    tenant = harness.factory.tenant("acme")
    with transaction(harness.sessions) as session:
        row = SlackMessage(
            tenant_id=tenant.id,
            kind="plan",
            channel_id=CHANNEL,
            ts="1700000000.000001",  # never posted: chat.update answers message_not_found
            workflow_id="plan-gone",
            approval_id=None,
            blocks=[],
            text="gone",
            status_text="",
            done=False,
            updated_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        message_id = row.id
    # The update is refused (message_not_found): the message is no longer tracked.
    portal = harness.http.portal
    assert portal is not None
    changed = portal.call(lambda: harness.slack.updater.tick(message_id=message_id))
    assert changed == 1
    with harness.sessions() as session:
        stored = session.get(SlackMessage, message_id)
        assert stored is not None
        assert stored.done is True
    assert [c.args["ts"] for c in harness.stand_in.of("chat.update")] == ["1700000000.000001"]
    # Done messages are not polled again.
    assert portal.call(lambda: harness.slack.updater.tick(message_id=message_id)) == 0
