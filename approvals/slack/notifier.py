"""The Slack notifier: approval requests (with Approve / Reject) and the sentry's incidents go to
the channel of the tenant's workspace (approvals/slack/links.py). Each approval message is
recorded, so that the updater keeps its status line current; finished plans show there too.
A tenant without a workspace is told nothing here (the web UI, API and CLI still list what
waits)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import cached_property

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.approvals.notifier import (
    ApprovalNotice,
    DataIssueNotice,
    IncidentNotice,
    Notice,
    Notifier,
    NullNotifier,
)
from sentimentops.approvals.slack import blocks, links
from sentimentops.approvals.slack.models import SlackMessage
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.logging import get_logger
from sentimentops.core.settings import Settings
from sentimentops.identity.tenancy import tenant_id_of

log = get_logger(__name__)

WAITING = blocks.approval_line("pending", decided_by=None, comment=None, plan=None)


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client of the bot (settings.slack_api_url: Slack's, or a test's stand-in)."""
    token = settings.slack_bot_token
    if token is None:
        raise ValueError("SENTIMENTOPS_SLACK_BOT_TOKEN is not set")
    client = AsyncWebClient(token=token.get_secret_value(), base_url=settings.slack_api_url)
    # Slack rate-limits chat.update and chat.postMessage per channel: wait as it says, then retry.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


class SlackNotifier:
    def __init__(
        self,
        settings: Settings,
        *,
        sessions: sessionmaker[Session] | None = None,
        client: AsyncWebClient | None = None,
        also: Notifier | None = None,
    ) -> None:
        self._settings = settings
        self._also = also or NullNotifier()
        self._given_sessions = sessions
        self._client = client or web_client(settings)

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        # The worker builds its notifier from settings alone: its own engine, made on first use.
        if self._given_sessions is not None:
            return self._given_sessions
        return make_session_factory(make_engine(self._settings.resolved_database_url))

    def _channel(self, tenant: str) -> tuple[str, str] | None:
        """(tenant id, channel) of the tenant's workspace, or None."""
        with self._sessions() as session:
            tenant_id = tenant_id_of(session, tenant)
            space = links.workspace_of_tenant(session, tenant_id)
            return (tenant_id, space.channel_id) if space is not None else None

    async def notify(self, notice: Notice) -> None:
        # Both channels are tried, so that a failure of one never silences the other.
        results = await asyncio.gather(
            self._also.notify(notice), self._slack(notice), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _slack(self, notice: Notice) -> None:
        target = await asyncio.to_thread(self._channel, notice.tenant)
        if target is None:
            log.info("slack.notify_skipped", tenant=notice.tenant, reason="no workspace")
            return
        tenant_id, channel = target
        if isinstance(notice, ApprovalNotice):
            await self._approval(notice, tenant_id, channel)
        elif isinstance(notice, IncidentNotice):
            await self._incident(notice, channel)
        else:
            await self._data_issue(notice, channel)

    async def _approval(self, notice: ApprovalNotice, tenant_id: str, channel: str) -> None:
        view = blocks.ApprovalView(
            approval_id=notice.approval_id,
            workflow_id=notice.workflow_id,
            plan_hash=notice.plan_hash,
            step_index=notice.step_index,
            tool=notice.tool,
            params=notice.params,
            requester=notice.requester,
            requested_by=notice.requested_by,
            rationale=notice.rationale,
            reasons=notice.reasons,
            expires_at=notice.expires_at,
        )
        text, base = blocks.approval(view, blocks.plan_links(self._settings, notice.workflow_id))
        posted = await self._client.chat_postMessage(
            channel=channel, text=text, blocks=blocks.with_status(base, WAITING, buttons=True)
        )

        def record() -> None:
            with transaction(self._sessions) as session:
                session.add(
                    SlackMessage(
                        tenant_id=tenant_id,
                        kind="approval",
                        channel_id=str(posted["channel"]),
                        ts=str(posted["ts"]),
                        workflow_id=notice.workflow_id,
                        approval_id=notice.approval_id,
                        blocks=base,
                        text=text,
                        status_text=WAITING,
                        done=False,
                        updated_at=datetime.now(UTC),
                    )
                )

        await asyncio.to_thread(record)

    async def _incident(self, notice: IncidentNotice, channel: str) -> None:
        what = "rolled back" if notice.rolled_back else f"stopped: {notice.status}"
        lines = [
            f":rotating_light: *Deployment sentry*: {blocks.esc(notice.task, 60)} {what}",
            blocks.esc(notice.summary, 2500),
        ]
        if notice.thread_id:
            lines.append(f"The agent's summary and proposal wait in thread `{notice.thread_id}`.")
        links_line = blocks.Links(temporal=notice.workflow_url).line()
        text = f"Deployment sentry: {notice.task} {what}"
        message = [blocks.section("\n".join(lines))]
        if links_line is not None:
            message.append(blocks.context(links_line))
        await self._client.chat_postMessage(
            channel=channel, text=blocks.plain(text, 300), blocks=message
        )

    async def _data_issue(self, notice: DataIssueNotice, channel: str) -> None:
        what = " and ".join(k.replace("_", " ") for k in notice.kinds) or "drift"
        lines = [
            f":warning: *Data issue* on {blocks.esc(notice.task, 60)}: {blocks.esc(what, 100)}",
            blocks.esc(notice.summary, 2500),
            f"Issue `{notice.issue_id}`; dataset version `{notice.dataset_version_id}`.",
        ]
        if notice.thread_id:
            lines.append(f"The Data Curation agent's report waits in thread `{notice.thread_id}`.")
        await self._client.chat_postMessage(
            channel=channel,
            text=blocks.plain(f"Data issue on {notice.task}: {what}", 300),
            blocks=[blocks.section("\n".join(lines))],
        )
