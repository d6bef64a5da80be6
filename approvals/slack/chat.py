"""Chat with the planner in Slack. Mentioning the app in a channel, or messaging it directly,
starts a planner thread (or continues the one its Slack thread already is); the mapping Slack
(team, channel, thread ts) ↔ agent thread is kept in slack_threads. A turn shows as one
message in the Slack thread, updated in place: each step the planner takes, then its answer
or its draft plan with Submit / Drop.

The Slack user acts as the account linked to them, through the same flows as the API
(PlannerChat): a thread belongs to whoever started it, so another person who writes in it is
told to start their own."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from sentimentops.approvals.slack import blocks
from sentimentops.approvals.slack.app import SlackApp
from sentimentops.approvals.slack.flows import audit_slack_flow, slack_principal_flow
from sentimentops.approvals.slack.links import NotLinked, SlackRefused
from sentimentops.approvals.slack.models import SlackThread
from sentimentops.approvals.slack.ports import (
    Answer,
    ChatEvent,
    Draft,
    Failed,
    PlannerChat,
    Progress,
)
from sentimentops.core.errors import DomainError, NotFound
from sentimentops.core.logging import get_logger
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.principal import Principal

# agents.schemas.MAX_MESSAGE_CHARS: longer messages are refused here, before any flow runs.
MAX_MESSAGE_CHARS = 4000
MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
# The turn's message shows the planner's steps at most this often (chat.update is rate-limited).
PROGRESS_SECONDS = 0.5

log = get_logger(__name__)


def register(app: SlackApp, chat: PlannerChat) -> None:
    async def on_mention(ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        if app.first_delivery(body.get("event_id")):
            app.spawn(handle_message(app, chat, str(body.get("team_id", "")), event))

    async def on_message(ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        # Direct messages only: in channels the app answers when mentioned (app_mention).
        direct = event.get("channel_type") == "im" and not event.get("bot_id")
        if direct and app.first_delivery(body.get("event_id")):
            app.spawn(handle_message(app, chat, str(body.get("team_id", "")), event))

    app.bolt.event("app_mention")(on_mention)
    app.bolt.event({"type": "message", "subtype": None})(on_message)


def _text(event: dict[str, Any]) -> str:
    # Mentions (the app's own, which starts every channel message) are not part of the request.
    return MENTION.sub("", str(event.get("text") or "")).strip()


async def handle_message(
    app: SlackApp, chat: PlannerChat, team: str, event: dict[str, Any]
) -> None:
    user = str(event.get("user", ""))
    channel = str(event.get("channel", ""))
    root = str(event.get("thread_ts") or event.get("ts", ""))
    text = _text(event)
    if not (team and user and channel and root):
        return
    if not text:
        await app.ephemeral(channel, user, "Ask me something, e.g. _roll sarcasm back_.", root)
        return
    if len(text) > MAX_MESSAGE_CHARS:
        await app.ephemeral(
            channel, user, f"That message is too long (over {MAX_MESSAGE_CHARS} characters).", root
        )
        return
    try:
        principal = await slack_principal_flow(app.flows, team_id=team, slack_user_id=user)
    except SlackRefused as exc:
        await audit_slack_flow(
            app.flows,
            team_id=team,
            slack_user_id=user,
            principal=None,
            action="slack.chat",
            resource=f"slack_thread/{channel}/{root}",
            outcome=AuditOutcome.REFUSED,
            details={"reason": str(exc)},
        )
        if isinstance(exc, NotLinked):
            text, offer = blocks.not_linked(str(exc))
            await app.ephemeral(channel, user, text, root, blocks=offer)
        else:
            await app.ephemeral(channel, user, blocks.esc(str(exc)), root)
        return
    await _turn(app, chat, principal, team=team, user=user, channel=channel, root=root, text=text)


async def _thread_id(
    app: SlackApp,
    chat: PlannerChat,
    principal: Principal,
    *,
    team: str,
    user: str,
    channel: str,
    root: str,
    text: str,
) -> str:
    """The agent thread this Slack thread is; opened (and recorded) on its first message."""
    found = await app.flows.read(lambda session: session.get(SlackThread, (team, channel, root)))
    if found is not None:
        if found.tenant_id != principal.tenant_id:
            raise NotFound("agent thread not found")
        return found.agent_thread_id
    thread_id = await chat.open_thread(principal, blocks.plain(text, 200))

    def record(session: Session) -> None:
        session.add(
            SlackThread(
                team_id=team,
                channel_id=channel,
                thread_ts=root,
                tenant_id=principal.tenant_id,
                agent_thread_id=thread_id,
                slack_user_id=user,
                created_at=datetime.now(UTC),
            )
        )

    await app.flows.write(record)
    return thread_id


async def _turn(
    app: SlackApp,
    chat: PlannerChat,
    principal: Principal,
    *,
    team: str,
    user: str,
    channel: str,
    root: str,
    text: str,
) -> None:
    async def audit(outcome: str, resource: str, **details: object) -> None:
        await audit_slack_flow(
            app.flows,
            team_id=team,
            slack_user_id=user,
            principal=principal,
            action="slack.chat",
            resource=resource,
            outcome=outcome,
            details={"channel": channel, "thread_ts": root, "length": len(text), **details},
        )

    try:
        thread_id = await _thread_id(
            app, chat, principal, team=team, user=user, channel=channel, root=root, text=text
        )
        events = await chat.post(principal, thread_id, text)
    except NotFound as exc:
        await audit(AuditOutcome.REFUSED, f"slack_thread/{channel}/{root}", reason=str(exc))
        owner = await app.flows.read(
            lambda session: session.get(SlackThread, (team, channel, root))
        )
        who = f"<@{owner.slack_user_id}>" if owner is not None else "someone else"
        await app.ephemeral(
            channel,
            user,
            f"This thread is {who}'s conversation with the planner; mention me in a new "
            "message to start your own.",
            root,
        )
        return
    except DomainError as exc:
        await audit(AuditOutcome.REFUSED, f"slack_thread/{channel}/{root}", reason=str(exc))
        await app.ephemeral(channel, user, blocks.esc(str(exc), 1000), root)
        return
    await audit(AuditOutcome.SUCCEEDED, f"agent_thread/{thread_id}")
    status, message = blocks.progress([])
    posted = await app.client.chat_postMessage(
        channel=channel, thread_ts=root, text=status, blocks=message
    )
    await show_events(app, events, channel=channel, ts=str(posted["ts"]))


async def show_events(
    app: SlackApp, events: AsyncIterator[ChatEvent], *, channel: str, ts: str
) -> None:
    """Render a turn's events into the message `ts`, updated in place. Progress
    is shown at most every PROGRESS_SECONDS (Slack rate-limits chat.update) and best effort:
    a refused progress update is skipped, the final answer or draft is always sent."""
    steps: list[str] = []
    shown_at = 0.0
    async for event in events:
        if isinstance(event, Progress):
            steps.append(event.text)
            now = asyncio.get_running_loop().time()
            if now - shown_at < PROGRESS_SECONDS:
                continue
            shown_at = now
            text, message = blocks.progress(steps)
            try:
                await app.client.chat_update(channel=channel, ts=ts, text=text, blocks=message)
            except SlackApiError as exc:
                log.warning("slack.progress_skipped", error=str(exc.response.get("error", "")))
            continue
        if isinstance(event, Answer):
            text, message = blocks.answer(event, steps)
        elif isinstance(event, Draft):
            links = blocks.plan_links(app.settings, None)
            text, message = blocks.draft(event.draft, links)
        elif isinstance(event, Failed):
            text, message = blocks.failure(event.message)
        else:
            continue  # a decision's outcome (submitted, dropped): the button handler renders it
        await app.client.chat_update(channel=channel, ts=ts, text=text, blocks=message)
