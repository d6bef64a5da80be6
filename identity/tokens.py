"""First-party access tokens: ES256 JWTs issued to service accounts by the client-credentials
grant and verified against the published signing keys."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy.orm import Session

from sentimentops.core.errors import Unauthorized
from sentimentops.core.settings import Settings
from sentimentops.identity import keys
from sentimentops.identity.models import SigningKey

# Every claim a first-party token must carry; a token missing one is refused, not defaulted.
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "tid"]


def issue(
    session: Session,
    *,
    settings: Settings,
    subject: str,
    tenant_id: str,
    tenant: str,
    roles: list[str],
    kind: str,
    ttl_seconds: int | None = None,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds (settings.token_ttl_seconds unless a
    shorter one is asked for: agents act with tokens of minutes)."""
    key = keys.current_key(
        session,
        secret_key=settings.secret_key.get_secret_value(),
        rotation_period=timedelta(days=settings.signing_key_rotation_days),
    )
    now = keys.utcnow()
    ttl = min(ttl_seconds or settings.token_ttl_seconds, settings.token_ttl_seconds)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": subject,
        "tid": tenant_id,
        "tenant": tenant,
        # Informational for clients: authorization re-reads the bindings on every request so
        # that removing a role takes effect before the token expires.
        "roles": sorted(roles),
        "kind": kind,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
    }
    private = keys.private_pem(key, secret_key=settings.secret_key.get_secret_value())
    token = jwt.encode(claims, private, algorithm=keys.ALGORITHM, headers={"kid": key.kid})
    return token, ttl


def verify(session: Session, token: str, *, settings: Settings) -> dict[str, Any]:
    """The claims of a valid first-party token; `Unauthorized` for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized("malformed token") from exc
    # Checked before any key is touched: "none", HS256 with the public key as secret and every
    # other algorithm confusion fail here.
    if header.get("alg") != keys.ALGORITHM:
        raise Unauthorized("token algorithm not accepted")
    kid = header.get("kid")
    key = session.get(SigningKey, kid) if isinstance(kid, str) else None
    if key is None or key.status not in (keys.CURRENT, keys.PREVIOUS):
        raise Unauthorized("token signed by an unknown key")
    try:
        public = jwt.PyJWK(key.public_jwk, algorithm=keys.ALGORITHM)
        claims: dict[str, Any] = jwt.decode(
            token,
            public.key,
            algorithms=[keys.ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            leeway=settings.token_leeway_seconds,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("tid"), str):
        raise Unauthorized("invalid token")
    return claims
