"""Slack flows: mapping a workspace to a tenant and linking Slack users (tenant admins, from the
CLI), resolving who a Slack user is, and auditing every press of a button with the Slack user
and the account it acts as. Each opens its own transaction through the FlowContext."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sentimentops.approvals.slack import links
from sentimentops.approvals.slack.models import SlackUserLink, SlackWorkspace
from sentimentops.core.audit import service as audit
from sentimentops.core.flows import FlowContext
from sentimentops.identity.models import Tenant
from sentimentops.identity.permissions import can_manage_identities
from sentimentops.identity.principal import Principal

# The audit log's tenant for a press from a workspace no tenant owns.
NO_TENANT = "-"


async def map_workspace_flow(
    ctx: FlowContext, principal: Principal, *, team_id: str, channel_id: str
) -> SlackWorkspace:
    can_manage_identities(principal)
    return await ctx.write(
        lambda session: links.map_workspace(
            session, principal=principal, team_id=team_id, channel_id=channel_id
        )
    )


async def link_user_flow(
    ctx: FlowContext, principal: Principal, *, slack_user_id: str, account: str
) -> SlackUserLink:
    can_manage_identities(principal)
    return await ctx.write(
        lambda session: links.link_user(
            session, principal=principal, slack_user_id=slack_user_id, account=account
        )
    )


async def unlink_user_flow(ctx: FlowContext, principal: Principal, *, slack_user_id: str) -> None:
    can_manage_identities(principal)
    await ctx.write(
        lambda session: links.unlink_user(session, principal=principal, slack_user_id=slack_user_id)
    )


async def list_links_flow(
    ctx: FlowContext, principal: Principal
) -> list[tuple[SlackUserLink, str]]:
    can_manage_identities(principal)
    return await ctx.read(lambda session: links.list_links(session, principal=principal))


async def slack_principal_flow(ctx: FlowContext, *, team_id: str, slack_user_id: str) -> Principal:
    """The principal a Slack user acts as (links.SlackRefused when none)."""
    return await ctx.read(
        lambda session: links.slack_principal(session, team_id=team_id, slack_user_id=slack_user_id)
    )


async def audit_slack_flow(
    ctx: FlowContext,
    *,
    team_id: str,
    slack_user_id: str,
    principal: Principal | None,
    action: str,
    resource: str,
    outcome: str,
    details: dict[str, Any],
) -> None:
    """Audit one press (or message) from Slack: the Slack user, the account it acted as (none
    when it is not linked), what it pressed and how that ended."""

    def write(session: Session) -> None:
        tenant = principal.tenant if principal is not None else NO_TENANT
        if principal is None and (space := links.workspace(session, team_id)) is not None:
            row = session.get(Tenant, space.tenant_id)
            tenant = row.slug if row is not None else tenant
        audit.record(
            session,
            actor=principal.actor
            if principal is not None
            else links.slack_actor(team_id, slack_user_id),
            tenant=tenant,
            action=action,
            resource=resource,
            outcome=outcome,
            details={
                "slack_team": team_id,
                "slack_user": slack_user_id,
                "account": principal.subject if principal is not None else None,
                **details,
            },
        )

    await ctx.write(write)
