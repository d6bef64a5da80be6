"""`Annotated` dependency aliases used by handlers, and the authorization markers.

Every route must carry an authorization decision: `public_route` (a commented, explicit
exception) or `get_principal` (an authenticated, rate-limited principal). Routers attach one of
them to the whole group (`dependencies=[AUTHENTICATED]` or `[PUBLIC]`); the route-coverage test
(tests/test_api.py) fails when a route has neither."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.orm import Session
from temporalio.client import Client

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import ServiceUnavailable, TooManyRequests, Unauthorized
from sentimentops.core.identity import authn
from sentimentops.core.identity import service as identity_service
from sentimentops.core.identity.principal import Principal
from sentimentops.core.identity.ratelimit import RateLimiter, retry_after_header
from sentimentops.core.logging import get_logger
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect

log = get_logger("sentimentops.auth")

# Declared for the OpenAPI document (so clients and schemathesis know the schemes); parsing and
# all checks happen in get_principal, which turns every failure into one uniform 401.
_bearer = HTTPBearer(auto_error=False, description="JWT access token or API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for handlers that only read: on SQLite it never takes the write lock."""
    with request.app.state.read_sessions() as session:
        yield session


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def temporal_client(request: Request) -> Client:
    """The app's Temporal client, connected on first use (in the app's event loop). Called by
    handlers after their own checks, not as a dependency, so a request refused for its input or
    its tenant never waits on Temporal."""
    client: Client | None = request.app.state.temporal_client
    if client is None:
        settings: Settings = request.app.state.settings
        try:
            client = await connect(settings)
        except RuntimeError as exc:
            raise ServiceUnavailable(f"Temporal did not answer: {exc}") from exc
        request.app.state.temporal_client = client
    return client


def public_route() -> None:
    """Authorization decision "public": the route reveals nothing tenant- or user-specific."""


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def get_principal(
    request: Request,
    settings: SettingsDep,
    _bearer_scheme: Annotated[object, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Authorization decision "authenticated": the caller's principal, after its tenant's rate
    limit. Handlers then apply a named policy (core.identity.policies) on their first line."""
    try:
        credential = authn.credential_from_headers(request.headers.get("authorization"), api_key)
        # Authentication only reads, in a read session: on SQLite it then never waits for the
        # write lock, which every scoring request would otherwise take.
        with request.app.state.read_sessions() as reader:
            who = authn.authenticate(
                reader, credential=credential, settings=settings, oidc=request.app.state.oidc
            )
    except Unauthorized as exc:
        with transaction(request.app.state.sessions) as writer:
            audit.record(
                writer,
                actor="anonymous",
                tenant="-",
                action="auth.authenticate",
                resource=f"{request.method} {request.url.path}",
                outcome="denied",
                details={"reason": str(exc)},
            )
        raise
    if who.touch_api_key is not None:  # at most once a minute per key
        with transaction(request.app.state.sessions) as writer:
            identity_service.touch_api_key(writer, key_id=who.touch_api_key)
    principal, tenant = who.principal, who.tenant
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.acquire(
        f"tenant:{tenant.id}",
        rate=tenant.rate_limit_per_second or settings.rate_limit_per_second,
        burst=tenant.rate_limit_burst or settings.rate_limit_burst,
    )
    # Throttling is not audited: under a flood that would turn every refused request into a
    # serialized write. Quota rejections are counted by the metrics instead
    # (sentimentops_quota_rejections_total).
    if not decision.allowed:
        request.app.state.metrics.quota_rejections.labels(tenant.slug).inc()
        raise TooManyRequests(
            f"rate limit of tenant {tenant.slug} exceeded",
            retry_after=retry_after_header(decision),
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
PUBLIC = Depends(public_route)
AUTHENTICATED = Depends(get_principal)

AUTHZ_DEPENDENCIES = frozenset({public_route, get_principal})
