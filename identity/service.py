"""Identity services: tenants, service accounts, role bindings, API keys, client credentials and
the first-run bootstrap. Plain functions; the caller owns the transaction (and commits)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from sentimentops.core.vocabulary import AuditOutcome, PrincipalKind, Role
from sentimentops.identity import cache as auth_cache
from sentimentops.identity.keys import as_utc, utcnow
from sentimentops.identity.models import (
    ApiKey,
    BootstrapToken,
    RoleBinding,
    ServiceAccount,
    Tenant,
)
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned

API_KEY_PREFIX = "so_"
PLATFORM_TENANT = "platform"
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A key used within this window is not written again: one UPDATE per request would turn every
# read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _audited(
    session: Session,
    actor: str,
    tenant: str,
    action: str,
    resource: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit row every identity change writes, in the change's own transaction."""
    audit.record(
        session,
        actor=actor,
        tenant=tenant,
        action=action,
        resource=resource,
        outcome=AuditOutcome.SUCCEEDED,
        details=details,
    )


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _rowcount(session: Session, statement: Executable) -> int:
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount


def _new_id() -> str:
    return uuid.uuid4().hex


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


# Tenants ----------------------------------------------------------------------------------------


def create_tenant(
    session: Session, *, actor: str, slug: str, display_name: str | None = None
) -> Tenant:
    if not _SLUG.match(slug):
        raise InvalidInput("tenant slug: lowercase letters, digits and '-', at most 63")
    if session.execute(select(exists().where(Tenant.slug == slug))).scalar():
        raise Conflict(f"tenant {slug!r} already exists")
    tenant = Tenant(
        id=_new_id(),
        slug=slug,
        display_name=display_name or slug,
        created_at=utcnow(),
        disabled=False,
    )
    session.add(tenant)
    session.flush()
    _audited(session, actor, slug, "identity.tenant.create", f"tenant:{tenant.id}")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.execute(select(Tenant).order_by(Tenant.slug)).scalars())


def get_tenant(session: Session, *, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


# Fields of a tenant that PATCH may change; anything else is a programming error.
_TENANT_UPDATABLE = frozenset(
    {
        "display_name",
        "disabled",
        "rate_limit_per_second",
        "rate_limit_burst",
        "store_prediction_texts",
    }
)
_TENANT_NOT_NULL = frozenset({"display_name", "disabled", "store_prediction_texts"})


def update_tenant(
    session: Session, *, actor: str, tenant: Tenant, changes: dict[str, object]
) -> Tenant:
    unknown = set(changes) - _TENANT_UPDATABLE
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)}")
    # null clears the rate limits (back to the defaults); these have no "unset" state.
    nulled = sorted(name for name in _TENANT_NOT_NULL if name in changes and changes[name] is None)
    if nulled:
        raise InvalidInput(f"{', '.join(nulled)} cannot be null")
    if tenant.slug == PLATFORM_TENANT and changes.get("disabled"):
        raise Conflict("the platform tenant cannot be disabled")
    for name, value in changes.items():
        setattr(tenant, name, value)
    session.flush()
    _audited(
        session, actor, tenant.slug, "identity.tenant.update", f"tenant:{tenant.id}", dict(changes)
    )
    return tenant


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()


# Service accounts and roles ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewServiceAccount:
    account: ServiceAccount
    client_secret: str  # shown once


def create_service_account(
    session: Session,
    *,
    actor: str,
    tenant: Tenant,
    name: str,
    kind: PrincipalKind = PrincipalKind.SERVICE,
    roles: frozenset[Role] = frozenset(),
) -> NewServiceAccount:
    if kind is PrincipalKind.HUMAN:
        raise InvalidInput("humans sign in through an identity provider, not as service accounts")
    exists_already = session.execute(
        select(exists().where(ServiceAccount.tenant_id == tenant.id, ServiceAccount.name == name))
    ).scalar()
    if exists_already:
        raise Conflict(f"service account {name!r} already exists")
    secret = new_client_secret()
    account = ServiceAccount(
        id=_new_id(),
        tenant_id=tenant.id,
        name=name,
        kind=kind.value,
        client_secret_hash=hash_secret(secret),
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.service_account.create",
        f"service_account:{account.id}",
        {"name": name, "kind": kind.value},
    )
    for role in sorted(roles):
        grant_role(session, actor=actor, tenant=tenant, account=account, role=role)
    return NewServiceAccount(account=account, client_secret=secret)


def list_service_accounts(session: Session, *, principal: Principal) -> list[ServiceAccount]:
    query = owned(ServiceAccount, principal).order_by(ServiceAccount.name)
    return list(session.execute(query).scalars())


def accounts_of_tenant(session: Session, tenant: Tenant) -> list[ServiceAccount]:
    query = select(ServiceAccount).where(ServiceAccount.tenant_id == tenant.id)
    return list(session.execute(query.order_by(ServiceAccount.name)).scalars())


def get_service_account(
    session: Session, *, principal: Principal, account_id: str
) -> ServiceAccount:
    return get_owned(session, ServiceAccount, account_id, principal)


def roles_of(session: Session, account_id: str) -> frozenset[Role]:
    rows = session.execute(
        select(RoleBinding.role).where(RoleBinding.service_account_id == account_id)
    ).scalars()
    return frozenset(Role(r) for r in rows if r in Role._value2member_map_)


def grant_role(
    session: Session, *, actor: str, tenant: Tenant, account: ServiceAccount, role: Role
) -> None:
    if account.tenant_id != tenant.id:  # defensive: callers pass a tenant-scoped account
        raise NotFound("service account not found")
    if role in roles_of(session, account.id):
        return
    session.add(
        RoleBinding(
            tenant_id=tenant.id, service_account_id=account.id, role=role.value, created_at=utcnow()
        )
    )
    session.flush()
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.role.grant",
        f"service_account:{account.id}",
        {"role": role.value},
    )


def revoke_role(
    session: Session, *, actor: str, tenant: Tenant, account: ServiceAccount, role: Role
) -> None:
    removed = _rowcount(
        session,
        delete(RoleBinding).where(
            RoleBinding.service_account_id == account.id,
            RoleBinding.tenant_id == tenant.id,
            RoleBinding.role == role.value,
        ),
    )
    if not removed:
        raise NotFound("role binding not found")
    auth_cache.note_change(session, tenant.id)  # a bulk DELETE: the ORM flush does not see it
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.role.revoke",
        f"service_account:{account.id}",
        {"role": role.value},
    )


def disable_service_account(
    session: Session, *, actor: str, tenant: Tenant, account: ServiceAccount
) -> None:
    """Stops every credential of the account at once: tokens, client secret and API keys."""
    if account.disabled_at is None:
        account.disabled_at = utcnow()
        session.flush()
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.service_account.disable",
        f"service_account:{account.id}",
    )


def rotate_client_secret(
    session: Session, *, actor: str, tenant: Tenant, account: ServiceAccount
) -> str:
    secret = new_client_secret()
    account.client_secret_hash = hash_secret(secret)
    session.flush()
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.service_account.rotate_secret",
        f"service_account:{account.id}",
    )
    return secret


def authenticate_client(
    session: Session, *, client_id: str, client_secret: str
) -> tuple[ServiceAccount, Tenant]:
    """The enabled service account whose client secret this is; `Unauthorized` otherwise."""
    account = session.get(ServiceAccount, client_id) if len(client_id) <= 64 else None
    # Hash even when the account is unknown so that timing does not reveal which ids exist.
    offered = hash_secret(client_secret)
    stored = account.client_secret_hash if account is not None else None
    if account is None or stored is None or not _same(offered, stored):
        raise Unauthorized("invalid client credentials")
    tenant = session.get(Tenant, account.tenant_id)
    if account.disabled_at is not None or tenant is None or tenant.disabled:
        raise Unauthorized("invalid client credentials")
    return account, tenant


# API keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str  # the whole key, shown once


def create_api_key(
    session: Session,
    *,
    actor: str,
    tenant: Tenant,
    account: ServiceAccount,
    name: str,
    expires_at: datetime | None = None,
) -> NewApiKey:
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput("expires_at must be in the future")
    # The prefix is public (it finds the row); the 256-bit remainder is the secret.
    prefix = secrets.token_hex(6)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=_new_id(),
        tenant_id=tenant.id,
        service_account_id=account.id,
        name=name,
        prefix=prefix,
        key_hash=hash_secret(secret),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    _audited(
        session,
        actor,
        tenant.slug,
        "identity.api_key.create",
        f"api_key:{key.id}",
        {"service_account": account.id, "prefix": prefix},
    )
    return NewApiKey(key=key, secret=secret)


def list_api_keys(session: Session, *, principal: Principal) -> list[ApiKey]:
    query = owned(ApiKey, principal).order_by(ApiKey.created_at)
    return list(session.execute(query).scalars())


def get_api_key(session: Session, *, principal: Principal, key_id: str) -> ApiKey:
    return get_owned(session, ApiKey, key_id, principal)


def revoke_api_key(session: Session, *, actor: str, tenant: Tenant, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    _audited(session, actor, tenant.slug, "identity.api_key.revoke", f"api_key:{key.id}")


def looks_like_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIX)


def authenticate_api_key(session: Session, secret: str) -> tuple[ApiKey, ServiceAccount, Tenant]:
    """The live key, its account and tenant; `Unauthorized` for anything else."""
    prefix = secret[len(API_KEY_PREFIX) :].split("_", 1)[0]
    key = session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
    offered = hash_secret(secret)
    if key is None or not _same(offered, key.key_hash):
        raise Unauthorized("invalid API key")
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and as_utc(key.expires_at) <= now):
        raise Unauthorized("API key revoked or expired")
    account = session.get(ServiceAccount, key.service_account_id)
    tenant = session.get(Tenant, key.tenant_id)
    if account is None or account.disabled_at is not None or tenant is None or tenant.disabled:
        raise Unauthorized("invalid API key")
    return key, account, tenant


def api_key_touch_due(key: ApiKey) -> bool:
    """Whether last_used_at is stale enough to be worth a write (at most once a minute)."""
    return key.last_used_at is None or utcnow() - as_utc(key.last_used_at) > LAST_USED_RESOLUTION


def touch_api_key(session: Session, *, key_id: str) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))


# Bootstrap --------------------------------------------------------------------------------------


def platform_admin_exists(session: Session) -> bool:
    query = select(
        exists().where(
            RoleBinding.role == Role.PLATFORM_ADMIN.value,
            RoleBinding.service_account_id == ServiceAccount.id,
            ServiceAccount.disabled_at.is_(None),
        )
    )
    return bool(session.execute(query).scalar())


def issue_bootstrap_token(session: Session, *, ttl: timedelta) -> str:
    """A one-time token for POST /api/v1/auth/bootstrap; only its hash is stored."""
    if platform_admin_exists(session):
        raise Conflict("a platform admin exists already; bootstrap is closed")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(BootstrapToken(token_hash=hash_secret(token), created_at=now, expires_at=now + ttl))
    session.flush()
    _audited(
        session,
        "system:cli",
        PLATFORM_TENANT,
        "identity.bootstrap_token.issue",
        "bootstrap",
        {"expires_at": (now + ttl).isoformat()},
    )
    return token


def _consume_bootstrap_token(session: Session, token: str, env_token: str | None) -> bool:
    if env_token is not None and _same(hash_secret(token), hash_secret(env_token)):
        return True
    now = utcnow()
    # A conditional UPDATE consumes the token atomically: two concurrent requests cannot both
    # see it unused.
    consumed = _rowcount(
        session,
        update(BootstrapToken)
        .where(
            BootstrapToken.token_hash == hash_secret(token),
            BootstrapToken.used_at.is_(None),
            BootstrapToken.expires_at > now,
        )
        .values(used_at=now),
    )
    return bool(consumed)


def bootstrap(
    session: Session, *, token: str, env_token: str | None, name: str
) -> NewServiceAccount:
    """Create the first platform admin (and the platform tenant) exactly once."""
    if platform_admin_exists(session):
        raise Conflict("a platform admin exists already; bootstrap is closed")
    if not _consume_bootstrap_token(session, token, env_token):
        raise Unauthorized("invalid or expired bootstrap token")
    actor = "system:bootstrap"
    try:
        # A nested transaction: a concurrent bootstrap that created the platform tenant first
        # makes ours fail on the unique slug instead of making a second admin.
        with session.begin_nested():
            tenant = tenant_by_slug(session, PLATFORM_TENANT) or create_tenant(
                session, actor=actor, slug=PLATFORM_TENANT, display_name="Platform"
            )
            created = create_service_account(
                session,
                actor=actor,
                tenant=tenant,
                name=name,
                roles=frozenset({Role.PLATFORM_ADMIN, Role.TENANT_ADMIN}),
            )
    except IntegrityError as exc:
        raise Conflict("bootstrap raced with another bootstrap; it is closed") from exc
    _audited(
        session,
        actor,
        PLATFORM_TENANT,
        "identity.bootstrap",
        f"service_account:{created.account.id}",
    )
    return created
