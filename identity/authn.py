"""Credentials to principal: first-party JWTs, external OIDC tokens and API keys, each checked
against the database; the API remembers the answers briefly (identity.cache), and a change that
disables an account or tenant drops them, so that it still takes effect immediately."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from sqlalchemy.orm import Session

from sentimentops.core.errors import Unauthorized
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service, tokens
from sentimentops.identity.cache import AuthCache
from sentimentops.identity.keys import as_utc
from sentimentops.identity.models import ServiceAccount, Tenant
from sentimentops.identity.oidc import OidcVerifier, claim
from sentimentops.identity.principal import AuthMethod, Principal, parse_roles

# Longer values are refused before any parsing: no legitimate token or key comes close.
MAX_CREDENTIAL_LENGTH = 8192


def _account_principal(
    session: Session, account: ServiceAccount, tenant: Tenant, method: AuthMethod
) -> Principal:
    return Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=account.id,
        name=account.name,
        kind=PrincipalKind(account.kind),
        roles=service.roles_of(session, account.id),
        method=method,
    )


@dataclass(frozen=True)
class Authenticated:
    """Who is calling; `touch_api_key` names a key whose last-use time is due for a write,
    which the caller makes in a write transaction (authentication itself only reads)."""

    principal: Principal
    tenant: Tenant
    touch_api_key: str | None = None
    # When the credential stops being valid by itself (a token's exp, an API key's expiry): the
    # principal cache (identity.cache) never answers with it past this time.
    expires_at: datetime | None = None
    # The API key behind the principal and when its use was last written: the cache keeps the
    # once-a-minute last-use write going while it answers from memory.
    api_key_id: str | None = None
    api_key_last_used: datetime | None = None


def _expiry(claims: Mapping[str, object]) -> datetime | None:
    exp = claims.get("exp")
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None


def _from_api_key(session: Session, secret: str) -> Authenticated:
    key, account, tenant = service.authenticate_api_key(session, secret)
    principal = _account_principal(session, account, tenant, AuthMethod.API_KEY)
    touch = key.id if service.api_key_touch_due(key) else None
    return Authenticated(
        principal,
        tenant,
        touch,
        expires_at=as_utc(key.expires_at) if key.expires_at is not None else None,
        api_key_id=key.id,
        api_key_last_used=as_utc(key.last_used_at) if key.last_used_at is not None else None,
    )


def _from_first_party(session: Session, token: str, settings: Settings) -> Authenticated:
    claims = tokens.verify(session, token, settings=settings)
    account = session.get(ServiceAccount, claims["sub"])
    tenant = session.get(Tenant, claims["tid"])
    if (
        account is None
        or tenant is None
        or account.tenant_id != tenant.id
        or account.disabled_at is not None
        or tenant.disabled
    ):
        raise Unauthorized("invalid token")
    return Authenticated(
        _account_principal(session, account, tenant, AuthMethod.FIRST_PARTY),
        tenant,
        expires_at=_expiry(claims),
    )


def _from_oidc(
    session: Session, token: str, settings: Settings, oidc: OidcVerifier
) -> Authenticated:
    issuer, claims = oidc.verify(token, leeway=settings.token_leeway_seconds)
    slug = claim(claims, issuer.tenant_claim)
    tenant = service.tenant_by_slug(session, slug) if isinstance(slug, str) else None
    if tenant is None or tenant.disabled:
        raise Unauthorized("token names no known tenant")
    roles = parse_roles(claim(claims, issuer.roles_claim))
    if not issuer.allow_platform_admin:
        roles -= {Role.PLATFORM_ADMIN}
    name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    principal = Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=str(claims["sub"]),
        name=str(name),
        kind=PrincipalKind.AGENT if Role.AGENT in roles else PrincipalKind.HUMAN,
        roles=roles,
        method=AuthMethod.OIDC,
        issuer=issuer.issuer,
    )
    return Authenticated(principal, tenant, expires_at=_expiry(claims))


def make_auth_cache(settings: Settings) -> AuthCache:
    """The principal cache the settings ask for (shared by Redis pub/sub when redis_url is set)."""
    return AuthCache(
        ttl_seconds=settings.auth_cache_seconds,
        touch_every=service.LAST_USED_RESOLUTION,
        redis_url=settings.redis_url,
    )


def credential_from_headers(authorization: str | None, api_key: str | None) -> str:
    """The one credential a request carries; two different ones are refused as ambiguous."""
    bearer = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use the Bearer scheme")
        bearer = value.strip()
    if bearer and api_key and bearer != api_key:
        raise Unauthorized("send one credential, not two")
    credential = bearer or api_key
    if not credential:
        raise Unauthorized("authentication required")
    if len(credential) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("credential too long")
    return credential


def authenticate(
    session: Session,
    *,
    credential: str,
    settings: Settings,
    oidc: OidcVerifier | None,
) -> Authenticated:
    """The principal behind `credential` and its tenant, or `Unauthorized`. Only reads."""
    if service.looks_like_api_key(credential):
        return _from_api_key(session, credential)
    try:
        issuer = jwt.decode(credential, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError as exc:
        raise Unauthorized("malformed token") from exc
    # The unverified issuer only chooses the verifier; each verifier then checks `iss` itself.
    if issuer == settings.token_issuer:
        return _from_first_party(session, credential, settings)
    if oidc is not None:
        return _from_oidc(session, credential, settings, oidc)
    raise Unauthorized("token issuer not accepted")
