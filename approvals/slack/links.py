"""Who a Slack user is on the platform: a workspace acts for one tenant, a Slack user acts as the
one platform account a tenant admin linked to them, and nobody else. Services take a session and
never commit it (approvals/slack/flows.py opens the transactions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.approvals.slack.models import SlackUserLink, SlackWorkspace
from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from sentimentops.core.vocabulary import AuditOutcome, PrincipalKind
from sentimentops.identity import service as identity
from sentimentops.identity.models import ServiceAccount, Tenant
from sentimentops.identity.principal import AuthMethod, Principal

# Slack's id shapes: teams T… (E… for an Enterprise Grid org), users U…/W…, channels C…/G…/D….
TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


class SlackRefused(Forbidden):
    """This Slack user may not act here: unknown workspace, no linked account, or a disabled
    one. The message is shown to the user as is."""


class NotLinked(SlackRefused):
    """The workspace acts for a tenant, but this Slack user is linked to no account of it."""


def _now() -> datetime:
    return datetime.now(UTC)


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise InvalidInput(f"{value!r} is not a Slack {what} id")
    return value


def slack_actor(team_id: str, slack_user_id: str) -> str:
    """How the audit log names a Slack user before (or without) its linked account."""
    return f"slack:{team_id}/{slack_user_id}"


def workspace(session: Session, team_id: str) -> SlackWorkspace | None:
    return session.get(SlackWorkspace, team_id)


def workspace_of_tenant(session: Session, tenant_id: str) -> SlackWorkspace | None:
    query = select(SlackWorkspace).where(SlackWorkspace.tenant_id == tenant_id)
    return session.execute(query.limit(1)).scalar_one_or_none()


def map_workspace(
    session: Session, *, principal: Principal, team_id: str, channel_id: str
) -> SlackWorkspace:
    """Make workspace `team_id` act for the caller's tenant, notices going to `channel_id`."""
    _checked(team_id, TEAM_ID, "team")
    _checked(channel_id, CHANNEL_ID, "channel")
    row = session.get(SlackWorkspace, team_id)
    if row is not None and row.tenant_id != principal.tenant_id:
        raise Conflict(f"Slack workspace {team_id} already acts for another tenant")
    other = workspace_of_tenant(session, principal.tenant_id)
    if other is not None and other.team_id != team_id:
        raise Conflict(f"tenant {principal.tenant} is already mapped to workspace {other.team_id}")
    if row is None:
        row = SlackWorkspace(
            team_id=team_id,
            tenant_id=principal.tenant_id,
            channel_id=channel_id,
            created_by=principal.actor,
            created_at=_now(),
        )
        session.add(row)
    else:
        row.channel_id = channel_id
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="slack.workspace.map",
        resource=f"slack_workspace/{team_id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"channel_id": channel_id},
    )
    return row


def _account(session: Session, principal: Principal, ref: str) -> ServiceAccount:
    """The caller's tenant's account named `ref` (its name or its id)."""
    query = select(ServiceAccount).where(
        ServiceAccount.tenant_id == principal.tenant_id,
        (ServiceAccount.name == ref) | (ServiceAccount.id == ref),
    )
    found = session.execute(query).scalars().first()
    if found is None:
        raise NotFound(f"no account {ref!r} in tenant {principal.tenant}")
    return found


def link_user(
    session: Session, *, principal: Principal, slack_user_id: str, account: str
) -> SlackUserLink:
    """Link a Slack user of the tenant's workspace to `account` (name or id; a relink moves it)."""
    _checked(slack_user_id, USER_ID, "user")
    space = workspace_of_tenant(session, principal.tenant_id)
    if space is None:
        raise InvalidInput(
            f"tenant {principal.tenant} has no Slack workspace yet: map it first with "
            "`sentimentops slack map-workspace TENANT TEAM_ID CHANNEL_ID`"
        )
    target = _account(session, principal, account)
    if target.kind == PrincipalKind.AGENT.value:
        raise InvalidInput("an agent account cannot be linked to a Slack user")
    if target.disabled_at is not None:
        raise InvalidInput(f"account {target.name} is disabled")
    row = session.get(SlackUserLink, (space.team_id, slack_user_id))
    if row is None:
        row = SlackUserLink(
            team_id=space.team_id,
            slack_user_id=slack_user_id,
            tenant_id=principal.tenant_id,
            account_id=target.id,
            created_by=principal.actor,
            created_at=_now(),
        )
        session.add(row)
    else:
        row.account_id = target.id
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="slack.user.link",
        resource=f"slack_user/{space.team_id}/{slack_user_id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"account_id": target.id, "account": target.name},
    )
    return row


def unlink_user(session: Session, *, principal: Principal, slack_user_id: str) -> None:
    space = workspace_of_tenant(session, principal.tenant_id)
    row = session.get(SlackUserLink, (space.team_id, slack_user_id)) if space else None
    if row is None or space is None:
        raise NotFound(f"Slack user {slack_user_id} is not linked in tenant {principal.tenant}")
    session.delete(row)
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="slack.user.unlink",
        resource=f"slack_user/{space.team_id}/{slack_user_id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"account_id": row.account_id},
    )


def list_links(session: Session, *, principal: Principal) -> list[tuple[SlackUserLink, str]]:
    """The tenant's links with each account's name."""
    query = (
        select(SlackUserLink, ServiceAccount.name)
        .join(ServiceAccount, ServiceAccount.id == SlackUserLink.account_id)
        .where(SlackUserLink.tenant_id == principal.tenant_id)
        .order_by(SlackUserLink.slack_user_id)
    )
    return [(link, str(name)) for link, name in session.execute(query).all()]


def slack_principal(session: Session, *, team_id: str, slack_user_id: str) -> Principal:
    """The platform principal a Slack user acts as: the linked account, with the roles it holds
    now (an unbound role or a disabled account takes effect at once), in the workspace's
    tenant. SlackRefused otherwise."""
    space = session.get(SlackWorkspace, team_id)
    tenant = session.get(Tenant, space.tenant_id) if space is not None else None
    if space is None or tenant is None or tenant.disabled:
        raise SlackRefused("this Slack workspace is not connected to a SentimentOps tenant")
    link = session.get(SlackUserLink, (team_id, slack_user_id))
    if link is None:
        raise NotLinked(
            "your Slack account is not linked to a SentimentOps account; ask a tenant admin to "
            f"run `sentimentops admin link-slack {tenant.slug} ACCOUNT {slack_user_id}`"
        )
    account = session.get(ServiceAccount, link.account_id)
    if account is None or account.tenant_id != tenant.id or account.disabled_at is not None:
        raise SlackRefused("the SentimentOps account linked to you is disabled")
    return Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=account.id,
        name=account.name,
        kind=PrincipalKind(account.kind),
        roles=identity.roles_of(session, account.id),
        method=AuthMethod.FIRST_PARTY,
    )


def slack_user_of(session: Session, *, team_id: str, actor: str) -> str | None:
    """The Slack user linked to the account an audit actor names ("service:<id>"), if any."""
    _kind, _, account_id = actor.partition(":")
    query = select(SlackUserLink.slack_user_id).where(
        SlackUserLink.team_id == team_id, SlackUserLink.account_id == account_id
    )
    return session.execute(query.limit(1)).scalar_one_or_none()
