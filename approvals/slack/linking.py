"""Linking from Slack: an unlinked user who writes to the app is offered "Ask to be linked"; they
name their SentimentOps account in a modal; the request is posted in the tenant's channel, where
a tenant admin (linked, holding the tenant_admin role, and not the requester) confirms it, which
links them exactly as `sentimentops admin link-slack` does (approvals/slack/flows.py), or
declines it. Naming an account grants nothing: only the confirming admin's press does, and each
step is audited (`slack.link.request`, `slack.link.confirm`, `slack.link.decline`)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from slack_sdk.errors import SlackApiError

from sentimentops.approvals.slack import blocks
from sentimentops.approvals.slack.app import SlackApp
from sentimentops.approvals.slack.buttons import Press, button_value
from sentimentops.approvals.slack.flows import link_user_flow
from sentimentops.approvals.slack.links import USER_ID, NotLinked, slack_principal, workspace
from sentimentops.core.errors import DomainError, Forbidden, InvalidInput
from sentimentops.core.logging import get_logger
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.permissions import can_manage_identities
from sentimentops.identity.schemas import NameStr

log = get_logger(__name__)

# What a service account may be called (identity's rule): nothing else is ever posted.
ACCOUNT_NAME: TypeAdapter[str] = TypeAdapter(NameStr)


def register(app: SlackApp) -> None:
    async def on_ask(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        # The modal must open within 3 seconds of the press: here, not in a task.
        channel = str((body.get("channel") or {}).get("id", ""))
        try:
            await app.client.views_open(
                trigger_id=str(body.get("trigger_id", "")), view=blocks.link_modal(channel)
            )
        except SlackApiError as exc:  # the trigger expired (Slack gives 3 seconds): say so
            log.warning("slack.modal_failed", error=str(exc.response.get("error", "")))
            user = str((body.get("user") or {}).get("id", ""))
            await app.ephemeral(channel, user, "The form could not open; press the button again.")

    async def on_account(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        state = view.get("state", {}).get("values", {})
        named = state.get(blocks.ACCOUNT_BLOCK, {}).get(blocks.ACCOUNT_INPUT, {}).get("value")
        app.spawn(request_link(app, body, view.get("private_metadata"), str(named or "")))

    async def on_confirm(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        app.spawn(decide_link(app, body, action.get("value"), confirm=True))

    async def on_decline(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        app.spawn(decide_link(app, body, action.get("value"), confirm=False))

    app.bolt.action(blocks.LINK_ASK)(on_ask)
    app.bolt.view(blocks.LINK_MODAL)(on_account)
    app.bolt.action(blocks.LINK_CONFIRM)(on_confirm)
    app.bolt.action(blocks.LINK_DECLINE)(on_decline)


async def request_link(app: SlackApp, body: dict[str, Any], metadata: object, account: str) -> None:
    """Post the user's request in the tenant's channel (the user must still be unlinked)."""
    try:
        meta = button_value(metadata, {"c": str})
    except InvalidInput:
        meta = {"c": ""}
    press = Press(app, {**body, "channel": {"id": meta["c"]}}, "slack.link.request", "")
    account = account.strip()
    press.resource = f"slack_user/{press.team}/{press.user}"

    def channel_of(session: Any) -> str:
        try:
            slack_principal(session, team_id=press.team, slack_user_id=press.user)
        except NotLinked:
            space = workspace(session, press.team)
            if space is not None:
                return space.channel_id
            raise
        raise InvalidInput("your Slack account is linked already")

    try:
        if not USER_ID.match(press.user):
            raise InvalidInput("this request does not come from a Slack user")
        try:
            ACCOUNT_NAME.validate_python(account)
        except ValidationError as exc:
            raise InvalidInput(
                "name the SentimentOps account you use (letters, digits, '.', '_', '-')"
            ) from exc
        channel = await app.flows.read(channel_of)
    except DomainError as exc:
        await press.refuse(exc, requested_account=account)
        return
    text, message = blocks.link_request(press.user, account)
    await app.client.chat_postMessage(channel=channel, text=text, blocks=message)
    await press.audit(AuditOutcome.REQUESTED, requested_account=account)
    if press.channel:
        await app.ephemeral(
            press.channel, press.user, "Asked; a tenant admin will confirm it.", press.thread_ts
        )


async def decide_link(app: SlackApp, body: dict[str, Any], raw: object, *, confirm: bool) -> None:
    verb = "confirm" if confirm else "decline"
    press = Press(app, body, f"slack.link.{verb}", "slack_user/?")
    try:
        value = button_value(raw, {"u": str, "a": str})
        press.resource = f"slack_user/{press.team}/{value['u']}"
        admin = await press.resolve()
        can_manage_identities(admin)
        if value["u"] == press.user:
            raise Forbidden("a link is confirmed by another tenant admin, not by who asked")
        if confirm:
            await link_user_flow(app.flows, admin, slack_user_id=value["u"], account=value["a"])
    except DomainError as exc:
        await press.refuse(exc)
        return
    await press.audit(AuditOutcome.SUCCEEDED, requester=value["u"], requested_account=value["a"])
    line = (
        f":link: linked as `{blocks.esc(value['a'], blocks.MAX_ACCOUNT_CHARS)}` by <@{press.user}>"
        if confirm
        else f":no_entry_sign: declined by <@{press.user}>"
    )
    shown = (body.get("message") or {}).get("blocks") or []
    kept = [b for b in shown[:48] if isinstance(b, dict) and b.get("type") != "actions"]
    await app.client.chat_update(
        channel=press.channel,
        ts=press.ts,
        text="Link request confirmed" if confirm else "Link request declined",
        blocks=blocks.with_status(kept, line, buttons=False),
    )
