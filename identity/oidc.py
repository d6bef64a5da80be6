"""External OpenID Connect identity providers: discovery document, JWKS cached with a TTL, token
verification against the issuer's allow-listed algorithms, and claim mapping to tenant and
roles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from sentimentops.core.errors import ServiceUnavailable, Unauthorized
from sentimentops.core.settings import OidcIssuer

# A token with an unknown kid may mean the provider rotated its keys; refetch, but at most this
# often per issuer so that forged kids cannot make us hammer the provider.
MIN_REFRESH_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 5.0


def _check_url(url: str, *, issuer: str) -> None:
    # The JWKS address comes from the provider's document: only https (or loopback http, the
    # same exception the issuer setting allows), so a tampered document cannot point us at an
    # internal plain-HTTP service.
    parsed = urlsplit(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ServiceUnavailable(f"identity provider {issuer} published a non-https jwks_uri")


def claim(claims: dict[str, Any], path: str) -> Any:
    """A possibly nested claim ("realm_access.roles")."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass
class _CachedKeys:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = float("-inf")


class OidcVerifier:
    """Verifies tokens of the configured providers. One per process; thread-safe."""

    def __init__(
        self,
        issuers: Sequence[OidcIssuer],
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuers = {i.issuer: i for i in issuers}
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        self._clock = clock
        self._cache: dict[str, _CachedKeys] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _fetch(self, issuer: OidcIssuer) -> dict[str, dict[str, Any]]:
        base = issuer.issuer.rstrip("/")
        try:
            document = self._http.get(f"{base}/.well-known/openid-configuration")
            document.raise_for_status()
            meta = document.json()
            if not isinstance(meta, dict) or meta.get("issuer") != issuer.issuer:
                raise ServiceUnavailable(
                    f"discovery document of {issuer.issuer} names another issuer"
                )
            jwks_uri = meta.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ServiceUnavailable(f"discovery document of {issuer.issuer} has no jwks_uri")
            _check_url(jwks_uri, issuer=issuer.issuer)
            response = self._http.get(jwks_uri)
            response.raise_for_status()
            jwks = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(f"identity provider {issuer.issuer} unreachable") from exc
        entries = jwks.get("keys", []) if isinstance(jwks, dict) else []
        return {
            entry["kid"]: entry
            for entry in entries
            if isinstance(entry, dict)
            and isinstance(entry.get("kid"), str)
            and entry.get("use", "sig") == "sig"
        }

    def _jwk(self, issuer: OidcIssuer, kid: str) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.setdefault(issuer.issuer, _CachedKeys())
            age = self._clock() - cached.fetched_at
            stale = age > issuer.jwks_cache_seconds
            missing = kid not in cached.keys and age > MIN_REFRESH_SECONDS
            if stale or missing:
                try:
                    cached.keys = self._fetch(issuer)
                    cached.fetched_at = self._clock()
                except ServiceUnavailable:
                    # Keep verifying with the keys we have while the provider is down; without
                    # any keys there is nothing to verify with.
                    if not cached.keys:
                        raise
            key = cached.keys.get(kid)
        if key is None:
            raise Unauthorized("token signed by an unknown key")
        return key

    def verify(self, token: str, *, leeway: int) -> tuple[OidcIssuer, dict[str, Any]]:
        """The provider and verified claims of `token`, or `Unauthorized`."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("token issuer not accepted")
        algorithm = header.get("alg")
        if algorithm not in issuer.algorithms:
            raise Unauthorized("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("token has no key id")
        jwk = self._jwk(issuer, kid)
        # A JWK that names its algorithm must match the header's (RFC 7517 §4.4); building the
        # key for the header's algorithm refuses a key of another type (RSA key, ES256 token).
        if jwk.get("alg", algorithm) != algorithm:
            raise Unauthorized("token algorithm does not match its key")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        return issuer, claims
