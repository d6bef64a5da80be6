"""Who an agent is: a service account per tenant and agent, holding only the `agent` role, that
acts with access tokens of minutes. The agent's reads and proposals go through the same
authentication as any caller's, so disabling the account or removing its role stops the agent
at once, and the audit log names it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.agents.schemas import AgentName
from sentimentops.core.errors import Forbidden, Unauthorized
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import authn, tokens
from sentimentops.identity import service as identity
from sentimentops.identity.models import ServiceAccount, Tenant
from sentimentops.identity.principal import Principal

SYSTEM_ACTOR = "system:agents"


def account_name(agent: AgentName) -> str:
    return f"agent-{agent}"


def ensure_account(session: Session, *, tenant: Tenant, agent: AgentName) -> ServiceAccount:
    """The tenant's account for `agent`, created (kind agent, role agent) on first use."""
    name = account_name(agent)
    found = session.execute(
        select(ServiceAccount).where(
            ServiceAccount.tenant_id == tenant.id, ServiceAccount.name == name
        )
    ).scalar_one_or_none()
    if found is not None:
        if found.kind != PrincipalKind.AGENT.value:
            # A service account of that name made by hand must not be taken over by the agent.
            raise Forbidden(f"service account {name!r} exists and is not an agent account")
        return found
    created = identity.create_service_account(
        session,
        actor=SYSTEM_ACTOR,
        tenant=tenant,
        name=name,
        kind=PrincipalKind.AGENT,
        roles=frozenset({Role.AGENT}),
    )
    return created.account


def agent_principal(
    session: Session, *, settings: Settings, tenant: Tenant, agent: AgentName
) -> Principal:
    """The agent's principal, authenticated from a freshly issued short-lived token (refused
    like any caller's when the account or tenant is disabled)."""
    account = ensure_account(session, tenant=tenant, agent=agent)
    token, _ttl = tokens.issue(
        session,
        settings=settings,
        subject=account.id,
        tenant_id=tenant.id,
        tenant=tenant.slug,
        roles=sorted(identity.roles_of(session, account.id)),
        kind=account.kind,
        ttl_seconds=settings.agent_token_ttl_seconds,
    )
    try:
        principal = authn.authenticate(
            session, credential=token, settings=settings, oidc=None
        ).principal
    except Unauthorized as exc:
        raise Forbidden(f"the {agent} agent of tenant {tenant.slug} is disabled") from exc
    if Role.AGENT not in principal.roles:
        raise Forbidden(f"the {agent} agent's account has lost its agent role")
    return principal
