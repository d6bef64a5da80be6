"""Identity flows: each user-level action end to end, in one transaction — issue a token,
bootstrap the first admin, create and change tenants, service accounts, roles and API keys,
rotate the signing key. The HTTP API and the CLI call these; refusals are audited in a
transaction of their own, so they survive the rollback of the refused work. A change that can
alter who a credential is (revoke, disable, roles, tenant, signing key) is broadcast to the other
processes' principal caches after its commit (identity/cache.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import Conflict, OAuthError, Unauthorized
from sentimentops.core.flows import FlowContext
from sentimentops.core.vocabulary import AuditOutcome, PrincipalKind, Role
from sentimentops.identity import cache as auth_cache
from sentimentops.identity import keys, permissions, service, tokens
from sentimentops.identity.principal import Principal
from sentimentops.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ServiceAccountCreate,
    ServiceAccountCredentials,
    ServiceAccountOut,
    TenantCreate,
    TenantCreated,
    TenantOut,
    TenantUpdate,
    TokenResponse,
)


def _credentials(session: Session, created: service.NewServiceAccount) -> ServiceAccountCredentials:
    account = created.account
    return ServiceAccountCredentials(
        account=ServiceAccountOut.of(account, service.roles_of(session, account.id)),
        client_id=account.id,
        client_secret=created.client_secret,
    )


def _audit_denial(
    ctx: FlowContext, *, actor: str, tenant: str, action: str, resource: str, reason: str
) -> None:
    with transaction(ctx.sessions) as session:
        audit.record(
            session,
            actor=actor,
            tenant=tenant,
            action=action,
            resource=resource,
            outcome=AuditOutcome.DENIED,
            details={"reason": reason},
        )


def issue_token_flow(ctx: FlowContext, *, client_id: str, client_secret: str) -> TokenResponse:
    """OAuth2 client credentials: a short-lived access token for a service account."""
    try:
        with transaction(ctx.sessions) as session:
            account, tenant = service.authenticate_client(
                session, client_id=client_id, client_secret=client_secret
            )
            roles = service.roles_of(session, account.id)
            access_token, ttl = tokens.issue(
                session,
                settings=ctx.settings,
                subject=account.id,
                tenant_id=tenant.id,
                tenant=tenant.slug,
                roles=[r.value for r in roles],
                kind=account.kind,
            )
            audit.record(
                session,
                actor=f"{account.kind}:{account.id}",
                tenant=tenant.slug,
                action="auth.token",
                resource="token",
                outcome=AuditOutcome.SUCCEEDED,
            )
    except Unauthorized as exc:
        _audit_denial(
            ctx,
            actor=f"client:{client_id[:64]}",
            tenant="-",
            action="auth.token",
            resource="token",
            reason=str(exc),
        )
        raise OAuthError("invalid_client", "invalid client credentials") from exc
    return TokenResponse(access_token=access_token, expires_in=ttl)


def bootstrap_flow(ctx: FlowContext, *, token: str, name: str) -> ServiceAccountCredentials:
    """First run only: the first platform admin, with its credentials (shown once)."""
    secret = ctx.settings.bootstrap_token
    env_token = secret.get_secret_value() if secret is not None else None
    try:
        with transaction(ctx.sessions) as session:
            created = service.bootstrap(session, token=token, env_token=env_token, name=name)
            return _credentials(session, created)
    except (Unauthorized, Conflict) as exc:
        _audit_denial(
            ctx,
            actor="anonymous",
            tenant=service.PLATFORM_TENANT,
            action="identity.bootstrap",
            resource="bootstrap",
            reason=str(exc),
        )
        raise


def create_tenant_flow(ctx: FlowContext, principal: Principal, body: TenantCreate) -> TenantCreated:
    """A tenant, and optionally its first tenant_admin service account."""
    permissions.can_manage_tenants(principal)
    with transaction(ctx.sessions) as session:
        tenant = service.create_tenant(
            session, actor=principal.actor, slug=body.slug, display_name=body.display_name
        )
        admin = None
        if body.admin_name is not None:
            created = service.create_service_account(
                session,
                actor=principal.actor,
                tenant=tenant,
                name=body.admin_name,
                roles=frozenset({Role.TENANT_ADMIN}),
            )
            admin = _credentials(session, created)
        return TenantCreated(tenant=TenantOut.of(tenant), admin=admin)


def update_tenant_flow(
    ctx: FlowContext, principal: Principal, tenant_id: str, body: TenantUpdate
) -> TenantOut:
    permissions.can_manage_tenants(principal)
    with transaction(ctx.sessions) as session:
        tenant = service.update_tenant(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=tenant_id),
            changes=body.model_dump(exclude_unset=True),
        )
        updated = TenantOut.of(tenant)
    # Disabled, or new rate limits: other processes must not answer from memory any more.
    auth_cache.broadcast(ctx.settings, tenant_id=tenant_id)
    return updated


def create_service_account_flow(
    ctx: FlowContext, principal: Principal, body: ServiceAccountCreate
) -> ServiceAccountCredentials:
    permissions.can_manage_identities(principal)
    for role in body.roles:
        permissions.can_grant_role(principal, role)
    with transaction(ctx.sessions) as session:
        created = service.create_service_account(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            name=body.name,
            kind=PrincipalKind(body.kind),
            roles=frozenset(body.roles),
        )
        return _credentials(session, created)


def disable_service_account_flow(ctx: FlowContext, principal: Principal, account_id: str) -> None:
    """Its tokens, client secret and API keys stop working at once."""
    permissions.can_manage_identities(principal)
    with transaction(ctx.sessions) as session:
        service.disable_service_account(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            account=service.get_service_account(
                session, principal=principal, account_id=account_id
            ),
        )
    auth_cache.broadcast(ctx.settings, tenant_id=principal.tenant_id)


def rotate_client_secret_flow(
    ctx: FlowContext, principal: Principal, account_id: str
) -> ServiceAccountCredentials:
    permissions.can_manage_identities(principal)
    with transaction(ctx.sessions) as session:
        account = service.get_service_account(session, principal=principal, account_id=account_id)
        secret = service.rotate_client_secret(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            account=account,
        )
        return _credentials(
            session, service.NewServiceAccount(account=account, client_secret=secret)
        )


def set_role_flow(
    ctx: FlowContext, principal: Principal, account_id: str, role: Role, *, granted: bool
) -> None:
    """Grant (`granted`) or revoke one role of a service account of the caller's tenant."""
    permissions.can_grant_role(principal, role)
    change = service.grant_role if granted else service.revoke_role
    with transaction(ctx.sessions) as session:
        change(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            account=service.get_service_account(
                session, principal=principal, account_id=account_id
            ),
            role=role,
        )
    auth_cache.broadcast(ctx.settings, tenant_id=principal.tenant_id)


def create_api_key_flow(
    ctx: FlowContext, principal: Principal, account_id: str, body: ApiKeyCreate
) -> ApiKeyCreated:
    permissions.can_manage_identities(principal)
    with transaction(ctx.sessions) as session:
        created = service.create_api_key(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            account=service.get_service_account(
                session, principal=principal, account_id=account_id
            ),
            name=body.name,
            expires_at=body.expires_at,
        )
        return ApiKeyCreated(key=ApiKeyOut.of(created.key), api_key=created.secret)


def revoke_api_key_flow(ctx: FlowContext, principal: Principal, key_id: str) -> None:
    permissions.can_manage_identities(principal)
    with transaction(ctx.sessions) as session:
        service.revoke_api_key(
            session,
            actor=principal.actor,
            tenant=service.get_tenant(session, tenant_id=principal.tenant_id),
            key=service.get_api_key(session, principal=principal, key_id=key_id),
        )
    auth_cache.broadcast(ctx.settings, tenant_id=principal.tenant_id)


def rotate_signing_key_flow(ctx: FlowContext, *, actor: str) -> str:
    """A new current JWT signing key (the old one keeps verifying until the next rotation);
    returns its key id."""
    with transaction(ctx.sessions) as session:
        key = keys.rotate(
            session, secret_key=ctx.settings.secret_key.get_secret_value(), actor=actor
        )
        kid = key.kid
    # Tokens signed with the key this rotation retired must stop working everywhere.
    auth_cache.broadcast(ctx.settings, tenant_id=None)
    return kid


def issue_bootstrap_token_flow(ctx: FlowContext, *, unless_done: bool = False) -> str | None:
    """A one-time bootstrap token; with `unless_done`, None once a platform admin exists."""
    with transaction(ctx.sessions) as session:
        if unless_done and service.platform_admin_exists(session):
            return None
        return service.issue_bootstrap_token(
            session, ttl=timedelta(seconds=ctx.settings.bootstrap_token_ttl_seconds)
        )
