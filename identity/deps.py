"""The "authenticated" authorization decision: every route carries `public_route`
(core.http.deps, a commented, explicit exception) or `get_principal` (an authenticated,
rate-limited principal). Routers attach one of them to the whole group
(`dependencies=[AUTHENTICATED]` or `[PUBLIC]`); the route-coverage test (tests/test_api.py) fails
when a route has neither."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.requests import HTTPConnection
from fastapi.security import APIKeyHeader, HTTPBearer

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import TooManyRequests, Unauthorized
from sentimentops.core.http.deps import SettingsDep, public_route
from sentimentops.core.logging import get_logger
from sentimentops.identity import authn
from sentimentops.identity import service as identity_service
from sentimentops.identity.cache import AuthCache
from sentimentops.identity.principal import Principal
from sentimentops.identity.ratelimit import RateLimiter, retry_after_header

log = get_logger("sentimentops.auth")

# Declared for the OpenAPI document (so clients and schemathesis know the schemes); parsing and
# all checks happen in get_principal, which turns every failure into one uniform 401.
_bearer = HTTPBearer(auto_error=False, description="JWT access token or API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


async def authenticate_connection(
    connection: HTTPConnection, credential: str
) -> authn.Authenticated:
    """Who is calling on this HTTP request or WebSocket handshake. A cached answer is served on
    the event loop (the scoring hot path: no thread hop, no database); the database, a denial's
    audit row and a due last-use write happen in a worker thread. Shared by get_principal and
    the stream route."""
    cache: AuthCache = connection.app.state.auth_cache
    cached = cache.peek(credential)
    if cached is not None and cached.touch_api_key is None:
        return cached
    return await asyncio.to_thread(_authenticate_blocking, connection, credential, cached)


def _authenticate_blocking(
    connection: HTTPConnection, credential: str, cached: authn.Authenticated | None
) -> authn.Authenticated:
    """The principal from the cache (`cached`) or the database; denials are audited, and the
    API key's last-use time is written when due."""
    state = connection.app.state
    cache: AuthCache = state.auth_cache

    def from_database() -> authn.Authenticated:
        # Authentication only reads, in a read session: on SQLite it then never waits for the
        # write lock, which every scoring request would otherwise take.
        with state.read_sessions() as reader:
            return authn.authenticate(
                reader, credential=credential, settings=state.settings, oidc=state.oidc
            )

    try:
        who = cached or cache.lookup(credential, from_database)
    except Unauthorized as exc:
        with transaction(state.sessions) as writer:
            audit.record(
                writer,
                actor="anonymous",
                tenant="-",
                action="auth.authenticate",
                resource=f"{connection.scope.get('method', 'WEBSOCKET')} {connection.url.path}",
                outcome="denied",
                details={"reason": str(exc)},
            )
        raise
    if who.touch_api_key is not None:  # at most once a minute per key (and process)
        with transaction(state.sessions) as writer:
            identity_service.touch_api_key(writer, key_id=who.touch_api_key)
    return who


async def get_principal(
    request: Request,
    settings: SettingsDep,
    _bearer_scheme: Annotated[object, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Authorization decision "authenticated": the caller's principal, after its tenant's rate
    limit. Handlers then apply a named permission (identity.permissions) on their first line.
    Async, so that a cached principal and an in-memory rate limit cost no worker thread."""
    credential = authn.credential_from_headers(request.headers.get("authorization"), api_key)
    who = await authenticate_connection(request, credential)
    principal, tenant = who.principal, who.tenant
    limiter: RateLimiter = request.app.state.rate_limiter
    key, rate = (
        f"tenant:{tenant.id}",
        tenant.rate_limit_per_second or settings.rate_limit_per_second,
    )
    burst = tenant.rate_limit_burst or settings.rate_limit_burst
    if limiter.blocking:
        decision = await asyncio.to_thread(limiter.acquire, key, rate=rate, burst=burst)
    else:
        decision = limiter.acquire(key, rate=rate, burst=burst)
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
AUTHENTICATED = Depends(get_principal)

AUTHZ_DEPENDENCIES = frozenset({public_route, get_principal})
