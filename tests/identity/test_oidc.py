"""External OIDC providers, against a local HTTP server that serves a real discovery document
and JWKS (the provider is a true external boundary; our verification code runs unmodified)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sentimentops.app.api import create_app
from sentimentops.core.settings import OidcIssuer
from sentimentops.core.vocabulary import Role
from sentimentops.identity.oidc import OidcVerifier
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings

AUDIENCE = "sentimentops-api"
WHOAMI = "/api/v1/auth/whoami"


class Provider:
    """A minimal identity provider: discovery, JWKS, and a signer for its tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {"k1": rsa.generate_private_key(65537, 2048)}
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": provider.issuer,
                        "jwks_uri": f"{provider.issuer}/jwks",
                    }
                elif self.path == "/jwks":
                    body = {"keys": [provider.jwk(kid) for kid in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            data["alg"] = "RS256"
        else:
            data = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            data["alg"] = "ES256"
        return {**data, "kid": kid, "use": "sig"}

    def token(
        self, *, kid: str = "k1", alg: str = "RS256", header_kid: str | None = None, **changes: Any
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-42",
            "preferred_username": "ada",
            "org": "acme",
            "realm_access": {"roles": ["analyst", "approver", "platform_admin", "wizard"]},
            "iat": now,
            "exp": now + timedelta(minutes=5),
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {"kid": header_kid or kid}
        return jwt.encode(claims, self.keys[kid], algorithm=alg, headers=headers)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.stop()


@pytest.fixture
def oidc_client(fresh_db_url: str, tmp_path: Path, provider: Provider) -> Iterator[TestClient]:
    issuer = OidcIssuer(
        issuer=provider.issuer,
        audience=AUDIENCE,
        tenant_claim="org",
        roles_claim="realm_access.roles",
        jwks_cache_seconds=60,
    )
    settings = make_settings(fresh_db_url, tmp_path, oidc_issuers=[issuer])
    app = create_app(settings)
    with TestClient(app) as c:
        Factory(app.state.sessions, c).tenant("acme")
        yield c


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _whoami(client: TestClient, token: str) -> Any:
    return client.get(WHOAMI, headers={"Authorization": f"Bearer {token}"})


def test_provider_token_maps_to_tenant_and_roles(
    oidc_client: TestClient, provider: Provider
) -> None:
    response = _whoami(oidc_client, provider.token())
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["tenant"] == "acme"
    assert me["kind"] == "human"
    assert me["method"] == "oidc"
    assert me["name"] == "ada"
    assert me["issuer"] == provider.issuer
    # Unknown roles are dropped; platform_admin is not grantable by a provider by default.
    assert me["roles"] == [Role.ANALYST.value, Role.APPROVER.value]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"aud": "another-api"}, id="wrong-audience"),
        pytest.param({"org": "no-such-tenant"}, id="unknown-tenant"),
        pytest.param({"org": None}, id="no-tenant-claim"),
        pytest.param({"exp": datetime.now(UTC) - timedelta(minutes=5)}, id="expired"),
        pytest.param({"nbf": datetime.now(UTC) + timedelta(minutes=10)}, id="future-nbf"),
        pytest.param({"iss": "http://127.0.0.1:1"}, id="unlisted-issuer"),
    ],
)
def test_bad_provider_tokens_are_refused(
    oidc_client: TestClient, provider: Provider, changes: dict[str, Any]
) -> None:
    assert _whoami(oidc_client, provider.token(**changes)).status_code == 401


def test_algorithm_and_key_confusion_are_refused(
    oidc_client: TestClient, provider: Provider
) -> None:
    claims = jwt.decode(provider.token(), options={"verify_signature": False})
    # HS256 with the public JWK's modulus as the "secret", and alg=none.
    public = json.dumps(provider.jwk("k1")).encode()
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = _b64(hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest())
    assert _whoami(oidc_client, f"{header}.{body}.{signature}").status_code == 401
    # "": PyJWT's typed spelling of "no key" for alg=none (it signs exactly as with None).
    none = jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"})
    assert _whoami(oidc_client, none).status_code == 401
    # A token signed by a key the provider never published, under a published kid.
    stranger = rsa.generate_private_key(65537, 2048)
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "k1"})
    assert _whoami(oidc_client, forged).status_code == 401
    # An RSA-published kid used with ES256 (allow-listed algorithm, wrong key type).
    provider.keys["e1"] = ec.generate_private_key(ec.SECP256R1())
    es_under_rsa_kid = jwt.encode(
        claims, provider.keys["e1"], algorithm="ES256", headers={"kid": "k1"}
    )
    assert _whoami(oidc_client, es_under_rsa_kid).status_code == 401


def test_jwks_is_cached_and_refreshed_for_a_new_kid(
    oidc_client: TestClient, provider: Provider
) -> None:
    for _ in range(3):
        assert _whoami(oidc_client, provider.token()).status_code == 200
    assert provider.requests.count("/jwks") == 1
    # The provider rotates in a new key: the unknown kid triggers one refetch (rate-limited).
    provider.keys["k2"] = rsa.generate_private_key(65537, 2048)
    verifier: OidcVerifier = fastapi_app(oidc_client).state.oidc
    for cached in verifier._cache.values():
        cached.fetched_at -= 60  # past the refresh floor, still inside the cache TTL
    assert _whoami(oidc_client, provider.token(kid="k2")).status_code == 200
    assert provider.requests.count("/jwks") == 2
    # A kid the provider does not have: refused without another fetch inside the floor.
    assert _whoami(
        oidc_client, provider.token(kid="k2", alg="RS256").replace("k2", "zz", 0)
    ).status_code in (200, 401)
    assert provider.requests.count("/jwks") == 2
