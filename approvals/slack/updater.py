"""Keeps the tracked Slack messages current as their plans move: waiting → approved by @x →
running step N → completed / failed / rolled back. One task in the process that serves Slack
polls the open messages every settings.slack_update_seconds, asks the approval table and the
plan (through PlanWatch) where they are, and calls chat.update only when the status line
changed. Polling, not pushing: the worker that moves a plan and the process that talks to
Slack may be different machines, and a restart loses nothing (the state is in the tables)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.slack import blocks, links
from sentimentops.approvals.slack.models import SlackMessage, SlackWorkspace
from sentimentops.approvals.slack.ports import FinishedPlan, PlanState, PlanWatch
from sentimentops.core.flows import FlowContext
from sentimentops.core.logging import get_logger
from sentimentops.core.vocabulary import ApprovalStatus
from sentimentops.identity.models import ServiceAccount

log = get_logger(__name__)

# One poll looks at this many open messages (the oldest-updated first), so a backlog is
# worked through over a few polls instead of one long one.
BATCH = 200
# Slack errors after which the message can never be updated: stop tracking it.
GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message", "is_archived"})


@dataclass(frozen=True)
class ApprovalState:
    status: str
    decided_by: str | None  # a mention or an escaped name
    comment: str | None


def _decider(session: Session, tenant_id: str, actor: str | None) -> str | None:
    if actor is None:
        return None
    space = links.workspace_of_tenant(session, tenant_id)
    if space is not None and (
        user := links.slack_user_of(session, team_id=space.team_id, actor=actor)
    ):
        return f"<@{user}>"
    account = session.get(ServiceAccount, actor.partition(":")[2])
    return blocks.esc(account.name if account is not None else actor, 200)


def _approval(session: Session, row: SlackMessage) -> ApprovalState | None:
    request = session.get(ApprovalRequest, row.approval_id) if row.approval_id else None
    if request is None or request.tenant_id != row.tenant_id:
        return None
    return ApprovalState(
        status=request.status,
        decided_by=_decider(session, row.tenant_id, request.decided_by),
        comment=request.comment,
    )


def status_of(
    kind: str, approval: ApprovalState | None, plan: PlanState | None
) -> tuple[str, bool, bool]:
    """(status line, buttons still pressable, done) of a tracked message."""
    if kind == "approval":
        status = approval.status if approval is not None else "unknown"
        if plan is not None and plan.final and status == ApprovalStatus.PENDING:
            status = plan.status  # the workflow ended before closing the request (cancelled)
        text = blocks.approval_line(
            status,
            decided_by=approval.decided_by if approval else None,
            comment=approval.comment if approval else None,
            plan=plan,
        )
        pending = status == ApprovalStatus.PENDING
        done = not pending and (status != ApprovalStatus.APPROVED or plan is None or plan.final)
        return text, pending, done
    if plan is None:
        return "plan starting", False, False
    return f"plan {blocks.plan_line(plan)}", False, plan.final


class SlackUpdater:
    def __init__(
        self,
        *,
        flows: FlowContext,
        client: AsyncWebClient,
        plans: PlanWatch,
        interval: float,
    ) -> None:
        self._flows = flows
        self._client = client
        self._plans = plans
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        # Plans that ended before this process started are not announced (no flood on start).
        self._since = datetime.now(UTC)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="slack-updater")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                await self.announce_finished()
            except Exception:
                log.exception("slack.update_failed")
            await asyncio.sleep(self._interval)

    async def announce_finished(self) -> int:
        """Post each plan of a Slack tenant that ended since this process started, once, in
        the tenant's channel, unless a tracked message already shows its end (an approval
        request, a submitted draft); how many were posted."""
        channels = await self._flows.read(
            lambda session: {
                space.tenant_id: space.channel_id
                for space in session.execute(select(SlackWorkspace)).scalars()
            }
        )
        if not channels:
            return 0
        ended = await self._plans.finished(tenant_ids=sorted(channels), limit=BATCH)
        fresh = [plan for plan in ended if plan.finished_at >= self._since]
        ids = [plan.workflow_id for plan in fresh]
        shown = await self._flows.read(
            lambda session: set(
                session.execute(
                    select(SlackMessage.workflow_id).where(SlackMessage.workflow_id.in_(ids))
                ).scalars()
            )
        )
        posted = 0
        for plan in reversed(fresh):  # oldest first, as they ended
            if plan.workflow_id not in shown:
                await self._announce(plan, channels[plan.tenant_id])
                posted += 1
        return posted

    async def _announce(self, plan: FinishedPlan, channel: str) -> None:
        state = PlanState(status=plan.status, final=True, message=plan.message)
        text, base = blocks.finished(
            plan.workflow_id, plan.rationale, blocks.plan_line(state), self._links(plan.workflow_id)
        )
        posted = await self._client.chat_postMessage(channel=channel, text=text, blocks=base)

        def record(session: Session) -> None:
            session.add(
                SlackMessage(
                    tenant_id=plan.tenant_id,
                    kind="finished",
                    channel_id=str(posted["channel"]),
                    ts=str(posted["ts"]),
                    workflow_id=plan.workflow_id,
                    approval_id=None,
                    blocks=base,
                    text=text,
                    status_text="",
                    done=True,
                    updated_at=datetime.now(UTC),
                )
            )

        await self._flows.write(record)

    def _links(self, workflow_id: str) -> blocks.Links:
        return blocks.plan_links(self._flows.settings, workflow_id)

    async def tick(self, *, approval_id: str | None = None, message_id: int | None = None) -> int:
        """Bring the open messages (or the one named) up to date; how many were changed."""

        def open_rows(session: Session) -> list[SlackMessage]:
            query = select(SlackMessage).where(SlackMessage.done.is_(False))
            if approval_id is not None:
                query = query.where(SlackMessage.approval_id == approval_id)
            if message_id is not None:
                query = query.where(SlackMessage.id == message_id)
            query = query.order_by(SlackMessage.updated_at).limit(BATCH)
            return list(session.execute(query).scalars())

        changed = 0
        for row in await self._flows.read(open_rows):
            changed += await self._update(row)
        return changed

    async def _update(self, row: SlackMessage) -> int:
        plan = await self._plans.state(row.workflow_id)
        approval = await self._flows.read(lambda session: _approval(session, row))
        text, buttons, done = status_of(row.kind, approval, plan)
        if text == row.status_text and not done:
            return 0
        if text != row.status_text:
            try:
                await self._client.chat_update(
                    channel=row.channel_id,
                    ts=row.ts,
                    text=row.text,
                    blocks=blocks.with_status(row.blocks, text, buttons=buttons),
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                log.warning("slack.update_refused", message=row.id, error=error)
                if error not in GONE:
                    return 0  # tried again at the next poll
                done = True

        def save(session: Session) -> None:
            stored = session.get(SlackMessage, row.id)
            if stored is not None:
                stored.status_text = text
                stored.done = done
                stored.updated_at = datetime.now(UTC)

        await self._flows.write(save)
        return 1
