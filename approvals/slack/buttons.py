"""The buttons: Approve / Reject on an approval request (Reject asks for a reason in a modal),
Submit / Drop on a draft plan. Each value carries what the person saw (the approval id and
plan hash; the thread, revision and plan hash), so a button of a plan that changed since
refuses. The press is decided by the same flows as the API (approvals/flows.py: approver role,
never the proposer nor the person who asked the agent, plan hash, expiry, OPA), as the account
linked to the Slack user; a refusal is an ephemeral message that changes nothing. Every press
is audited with the Slack user and the linked account (`slack.approval.approve|reject`,
`slack.draft.submit|drop`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.approvals.flows import decide_approval_flow
from sentimentops.approvals.slack import blocks
from sentimentops.approvals.slack.app import SlackApp
from sentimentops.approvals.slack.flows import audit_slack_flow, slack_principal_flow
from sentimentops.approvals.slack.models import SlackMessage, SlackThread
from sentimentops.approvals.slack.ports import Failed, Submitted
from sentimentops.core.errors import DomainError, InvalidInput, NotFound, ServiceUnavailable
from sentimentops.core.logging import get_logger
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.principal import Principal

log = get_logger(__name__)

HASH_CHARS = 64
ID_CHARS = 64


def button_value(raw: object, keys: dict[str, type]) -> dict[str, Any]:
    """A button's value (or modal metadata) as we wrote it; anything else is InvalidInput."""
    try:
        value = json.loads(str(raw))
    except ValueError as exc:
        raise InvalidInput("this button's value is not one the app wrote") from exc
    if not isinstance(value, dict) or any(not isinstance(value.get(k), t) for k, t in keys.items()):
        raise InvalidInput("this button's value is not one the app wrote")
    if any(isinstance(v, str) and len(v) > ID_CHARS for v in value.values()):
        raise InvalidInput("this button's value is not one the app wrote")
    return value


class Press:
    """One press: who (Slack team and user, the principal once resolved), where (channel,
    message), and its audit record."""

    def __init__(self, app: SlackApp, body: dict[str, Any], action: str, resource: str) -> None:
        self.app = app
        self.team = str(
            (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", "")
        )
        self.user = str((body.get("user") or {}).get("id", ""))
        self.channel = str((body.get("channel") or {}).get("id", ""))
        message = body.get("message") or {}
        self.ts = str(message.get("ts", ""))
        self.thread_ts = message.get("thread_ts")
        self.action = action
        self.resource = resource
        self.principal: Principal | None = None

    async def resolve(self) -> Principal:
        self.principal = await slack_principal_flow(
            self.app.flows, team_id=self.team, slack_user_id=self.user
        )
        return self.principal

    async def audit(self, outcome: str, **details: Any) -> None:
        await audit_slack_flow(
            self.app.flows,
            team_id=self.team,
            slack_user_id=self.user,
            principal=self.principal,
            action=self.action,
            resource=self.resource,
            outcome=outcome,
            details=details,
        )

    async def refuse(self, exc: DomainError, **details: Any) -> None:
        await self.audit(AuditOutcome.REFUSED, reason=str(exc), **details)
        if self.channel:
            text = f":no_entry: {blocks.esc(str(exc), 1000)} Nothing was changed."
            await self.app.ephemeral(self.channel, self.user, text, self.thread_ts)

    async def failed(self, exc: ServiceUnavailable, **details: Any) -> None:
        """A service was away (Temporal, OPA): not a refusal, and the decision may already be
        recorded (the error says so and how it will be delivered)."""
        await self.audit(AuditOutcome.FAILED, reason=str(exc), **details)
        if self.channel:
            text = f":warning: {blocks.esc(str(exc), 1000)}"
            await self.app.ephemeral(self.channel, self.user, text, self.thread_ts)


def register(app: SlackApp) -> None:
    async def on_approve(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        app.spawn(decide(app, body, action.get("value"), approve=True, comment=None))

    async def on_reject(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        # The modal must open within 3 seconds of the press (trigger_id): here, not later.
        try:
            value = button_value(action.get("value"), {"a": str, "h": str})
        except InvalidInput as exc:
            await Press(app, body, "slack.approval.reject", "approval/?").refuse(exc)
            return
        press = Press(app, body, "slack.approval.reject", f"approval/{value['a']}")
        try:
            await app.client.views_open(
                trigger_id=str(body.get("trigger_id", "")),
                view=blocks.reject_modal(value["a"], value["h"], press.channel, press.ts),
            )
        except SlackApiError as exc:  # the trigger expired (Slack gives 3 seconds): say so
            log.warning("slack.modal_failed", error=str(exc.response.get("error", "")))
            await app.ephemeral(
                press.channel,
                press.user,
                "The form could not open; press Reject again.",
                press.thread_ts,
            )

    async def on_reason(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        state = view.get("state", {}).get("values", {})
        reason = state.get(blocks.REASON_BLOCK, {}).get(blocks.REASON_INPUT, {}).get("value")
        try:
            meta = button_value(
                view.get("private_metadata"), {"a": str, "h": str, "c": str, "ts": str}
            )
        except InvalidInput as exc:
            await Press(app, body, "slack.approval.reject", "approval/?").refuse(exc)
            return
        # The modal's payload names no channel or message: they travel in its metadata.
        where = {**body, "channel": {"id": meta["c"]}, "message": {"ts": meta["ts"]}}
        value = json.dumps({"a": meta["a"], "h": meta["h"]})
        comment = blocks.plain(reason or "", blocks.MAX_REASON_CHARS) or None
        app.spawn(decide(app, where, value, approve=False, comment=comment))

    async def on_submit(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        app.spawn(decide_draft(app, body, action.get("value"), "submit"))

    async def on_drop(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        app.spawn(decide_draft(app, body, action.get("value"), "drop"))

    app.bolt.action(blocks.APPROVE)(on_approve)
    app.bolt.action(blocks.REJECT)(on_reject)
    app.bolt.view(blocks.REJECT_MODAL)(on_reason)
    app.bolt.action(blocks.SUBMIT)(on_submit)
    app.bolt.action(blocks.DROP)(on_drop)


async def decide(
    app: SlackApp, body: dict[str, Any], raw: object, *, approve: bool, comment: str | None
) -> None:
    verb = "approve" if approve else "reject"
    press = Press(app, body, f"slack.approval.{verb}", "approval/?")
    try:
        value = button_value(raw, {"a": str, "h": str})
        press.resource = f"approval/{value['a']}"
        principal = await press.resolve()
        async with app.locks[value["a"]]:
            row = await decide_approval_flow(
                app.flows,
                principal,
                approval_id=value["a"],
                approve=approve,
                plan_hash=value["h"],
                comment=comment,
                policy=app.policy,
            )
    except ServiceUnavailable as exc:
        await press.failed(exc, plan_hash=_hash_of(raw))
        await app.updater.tick(approval_id=press.resource.removeprefix("approval/"))
        return
    except DomainError as exc:
        await press.refuse(exc, plan_hash=_hash_of(raw))
        return
    await press.audit(row.status, plan_hash=row.plan_hash, workflow_id=row.workflow_id)
    await app.updater.tick(approval_id=row.id)


def _hash_of(raw: object) -> str | None:
    try:
        value = json.loads(str(raw))
    except ValueError:
        return None
    found = value.get("h") if isinstance(value, dict) else None
    return str(found)[:HASH_CHARS] if found is not None else None


async def decide_draft(
    app: SlackApp, body: dict[str, Any], raw: object, action: Literal["submit", "drop"]
) -> None:
    """Submit or drop the draft the button belongs to: only its revision (a newer draft of the
    thread makes this button refuse), only by whoever started the thread (agents' flows)."""
    press = Press(app, body, f"slack.draft.{action}", "agent_thread/?")
    try:
        value = button_value(raw, {"t": str, "r": int, "h": str})
        press.resource = f"agent_thread/{value['t']}"
        principal = await press.resolve()
        mapped = await app.flows.read(lambda s: _mapped_thread(s, principal, value["t"]))
        if app.chat is None or not mapped:
            raise NotFound("agent thread not found")
        events = await app.chat.decide(principal, value["t"], action, value["r"])
        seen = [e async for e in events]
    except DomainError as exc:
        await press.refuse(exc, plan_hash=_hash_of(raw))
        return
    submitted = [e for e in seen if isinstance(e, Submitted)]
    failed = [e.message for e in seen if isinstance(e, Failed)]
    if failed or (action == "submit" and not submitted):
        reason = failed[0] if failed else "nothing was submitted"
        await press.refuse(InvalidInput(reason), plan_hash=value["h"])
        return
    await press.audit(AuditOutcome.SUCCEEDED, plan_hash=value["h"], revision=value["r"])
    base = _without_buttons(body)
    who = f"<@{press.user}>"
    if action == "drop":
        done = blocks.with_status(base, f":wastebasket: dropped by {who}", buttons=False)
        await app.client.chat_update(
            channel=press.channel, ts=press.ts, text="Draft dropped", blocks=done
        )
        return
    plan = submitted[0]
    links = blocks.plan_links(app.settings, plan.workflow_id).line()
    line = f":inbox_tray: submitted by {who} as plan `{blocks.esc(plan.workflow_id, 200)}`"
    base = [*base, blocks.context(line + (f" · {links}" if links else ""))]
    await _track(app, press, principal, base, plan)


def _mapped_thread(session: Session, principal: Principal, thread_id: str) -> bool:
    """The agent thread was started from Slack, in the caller's tenant."""
    query = select(SlackThread.agent_thread_id).where(
        SlackThread.agent_thread_id == thread_id, SlackThread.tenant_id == principal.tenant_id
    )
    return session.execute(query).first() is not None


def _without_buttons(body: dict[str, Any]) -> list[blocks.Block]:
    """The pressed message's blocks (ours, as Slack echoes them back) without its buttons; at
    most 48, leaving room for the lines added below them."""
    shown = (body.get("message") or {}).get("blocks") or []
    return [b for b in shown[:48] if isinstance(b, dict) and b.get("type") != "actions"]


async def _track(
    app: SlackApp, press: Press, principal: Principal, base: list[blocks.Block], plan: Submitted
) -> None:
    """Show the submitted draft with its plan's status, and keep that status current."""
    text = f"Plan {plan.workflow_id} submitted"

    def record(session: Session) -> int:
        row = SlackMessage(
            tenant_id=principal.tenant_id,
            kind="plan",
            channel_id=press.channel,
            ts=press.ts,
            workflow_id=plan.workflow_id,
            approval_id=None,
            blocks=base,
            text=text,
            status_text="",
            done=False,
            updated_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return row.id

    message_id = await app.flows.write(record)
    await app.updater.tick(message_id=message_id)
