"""POST /slack/events: Slack's HTTP events, interactions and modal submissions, handed to Bolt.

Mounted by the app only when the Slack settings are set. Authenticated by Slack's request
signature, not by a platform credential: Bolt refuses (401) a request whose `X-Slack-Signature`
is not the HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret, or whose timestamp
is more than five minutes from now (a replay). Hence the PUBLIC marker of the route-coverage
test: the platform's authorization happens per action, as the Slack user's linked account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from sentimentops.approvals.slack.app import SlackApp
from sentimentops.core.http.deps import PUBLIC

EVENTS_PATH = "/slack/events"


def slack_router(slack: SlackApp) -> APIRouter:
    handler = AsyncSlackRequestHandler(slack.bolt)
    # PUBLIC: the signature is the authentication (see the module docstring).
    router = APIRouter(tags=["slack"], dependencies=[PUBLIC])

    @router.post(EVENTS_PATH, operation_id="slack-events", include_in_schema=False)
    async def events(request: Request) -> Response:
        """Slack's events and interactions (signed by Slack; acknowledged within 3 seconds)."""
        return await handler.handle(request)

    return router
