"""Credentials to principal: first-party JWTs, external OIDC tokens and API keys, each checked
against the database so that disabling an account or tenant takes effect immediately."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from sqlalchemy.orm import Session

from sentimentops.core.errors import Unauthorized
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service, tokens
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


def _from_api_key(session: Session, secret: str) -> Authenticated:
    key, account, tenant = service.authenticate_api_key(session, secret)
    principal = _account_principal(session, account, tenant, AuthMethod.API_KEY)
    touch = key.id if service.api_key_touch_due(key) else None
    return Authenticated(principal, tenant, touch)


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
        _account_principal(session, account, tenant, AuthMethod.FIRST_PARTY), tenant
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
    return Authenticated(principal, tenant)


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
