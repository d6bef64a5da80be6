"""The one Bolt app: chat with the planner (approvals/slack/chat.py) and the approval and draft
buttons (approvals/slack/buttons.py), over HTTP events (/slack/events, served by the API) or
Socket Mode (`sentimentops slack`).

Every listener acknowledges first and then hands its work to a task this app tracks: Slack
wants an answer within 3 seconds, a planner turn or a Temporal signal may take longer, and the
tracked tasks are awaited on shutdown (`close`) and by tests (`drain`), so none is lost."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sentimentops.approvals.slack.notifier import web_client
from sentimentops.approvals.slack.ports import PlannerChat, PlanWatch
from sentimentops.approvals.slack.updater import SlackUpdater
from sentimentops.core.flows import FlowContext
from sentimentops.core.logging import get_logger
from sentimentops.core.policy import PolicyEngine
from sentimentops.core.settings import Settings

log = get_logger(__name__)

# Far more than Slack redelivers within its retry window (three retries over minutes).
SEEN_EVENTS = 10_000


@dataclass
class SlackApp:
    """The Slack app's collaborators and its tracked tasks; `bolt` is the Bolt app itself."""

    settings: Settings
    flows: FlowContext
    client: AsyncWebClient
    chat: PlannerChat | None
    plans: PlanWatch
    updater: SlackUpdater
    # None: the OPA server the settings name (approvals/flows.py).
    policy: PolicyEngine | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One decision at a time per approval request in this process: a double click's two
    # presses arrive together, and the second must find the first's decision already made.
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # Event ids seen lately: Slack delivers an event again when it thinks the first delivery
    # failed (and anyone holding a signed request may resend it within the 5-minute window).
    seen_events: OrderedDict[str, None] = field(default_factory=OrderedDict)
    bolt: AsyncApp = field(init=False)

    def first_delivery(self, event_id: object) -> bool:
        """True the first time this process sees `event_id` (the last SEEN_EVENTS are kept)."""
        key = str(event_id or "")
        if not key:
            return True  # nothing to compare (Slack always sends an id)
        if key in self.seen_events:
            return False
        self.seen_events[key] = None
        while len(self.seen_events) > SEEN_EVENTS:
            self.seen_events.popitem(last=False)
        return True

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` after the acknowledgement, tracked until it ends."""
        task = asyncio.create_task(self._logged(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _logged(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("slack.work_failed")

    async def drain(self) -> None:
        """Wait until every task started so far (and those they started) has ended."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def start(self) -> None:
        self.updater.start()

    async def close(self) -> None:
        await self.drain()
        await self.updater.stop()

    async def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """A message only `user` sees (refusals, hints); text the caller already escaped."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts, blocks=blocks
            )
        except SlackApiError as exc:  # the user may have left the channel: nothing to tell
            log.warning("slack.ephemeral_failed", error=str(exc.response.get("error", "")))


def build_slack_app(
    settings: Settings,
    flows: FlowContext,
    *,
    plans: PlanWatch,
    chat: PlannerChat | None = None,
    policy: PolicyEngine | None = None,
    client: AsyncWebClient | None = None,
    socket_mode: bool = False,
) -> SlackApp:
    """The Slack app. HTTP mode verifies each request's signature (and its 5-minute timestamp
    window) with the signing secret; Socket Mode's requests come over the app's own
    authenticated WebSocket and carry no signature."""
    # Imported here: the handler modules import this one for SlackApp.
    from sentimentops.approvals.slack import buttons, linking
    from sentimentops.approvals.slack import chat as chat_handlers

    if settings.slack_bot_token is None:
        raise ValueError("SENTIMENTOPS_SLACK_BOT_TOKEN is not set")
    secret = settings.slack_signing_secret
    if not socket_mode and secret is None:
        raise ValueError("HTTP events need SENTIMENTOPS_SLACK_SIGNING_SECRET")
    web = client or web_client(settings)
    app = SlackApp(
        settings=settings,
        flows=flows,
        client=web,
        chat=chat,
        plans=plans,
        policy=policy,
        updater=SlackUpdater(
            flows=flows, client=web, plans=plans, interval=settings.slack_update_seconds
        ),
    )
    app.bolt = AsyncApp(
        client=web,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        request_verification_enabled=not socket_mode,
        # Answer Slack as soon as a listener acknowledges; the work runs in `spawn`'s tasks.
        process_before_response=False,
    )
    buttons.register(app)
    linking.register(app)
    if chat is not None:
        chat_handlers.register(app, chat)
    return app
