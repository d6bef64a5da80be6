"""The JWT suite: every way a token can be wrong is a 401 with a Bearer challenge, on SQLite and
PostgreSQL. Forged tokens are signed with the real key unless the point is a wrong key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.identity import keys
from sentimentops.identity.models import SigningKey
from tests.identity.conftest import Account, Factory

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

WHOAMI = "/api/v1/auth/whoami"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _current(factory: Factory) -> SigningKey:
    with factory.sessions() as session:
        return session.execute(
            select(SigningKey).where(SigningKey.status == keys.CURRENT)
        ).scalar_one()


def _claims(settings: Settings, account: Account, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": account.client_id,
        "tid": account.tenant.id,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "test",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(factory: Factory, settings: Settings, claims: dict[str, Any], **header: Any) -> str:
    key = _current(factory)
    pem = keys.private_pem(key, secret_key=settings.secret_key.get_secret_value())
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": key.kid, **header})


@pytest.fixture
def account(factory: Factory, client: TestClient) -> Account:
    made = factory.account("acme", "svc", {Role.VIEWER})
    factory.token(made)  # creates the first signing key
    return made


def _assert_401(client: TestClient, token: str) -> None:
    response = client.get(WHOAMI, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_valid_token_is_accepted(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    token = _sign(factory, identity_settings, _claims(identity_settings, account))
    response = client.get(WHOAMI, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["subject"] == account.client_id
    assert response.json()["roles"] == ["viewer"]


def test_alg_none_is_refused(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    claims = _claims(identity_settings, account)
    # "": PyJWT's typed spelling of "no key" for alg=none (it signs exactly as with None).
    token = jwt.encode(claims, "", algorithm="none", headers={"kid": _current(factory).kid})
    _assert_401(client, token)
    # Also the hand-made variant with an empty signature and "None" capitalised.
    header = _b64(json.dumps({"alg": "None", "typ": "JWT", "kid": _current(factory).kid}).encode())
    body = _b64(json.dumps(claims, default=lambda d: int(d.timestamp())).encode())
    _assert_401(client, f"{header}.{body}.")


def test_hs256_signed_with_the_public_key_is_refused(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    key = _current(factory)
    public_pem = jwt.PyJWK(key.public_jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims(identity_settings, account)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = _b64(json.dumps(claims, default=lambda d: int(d.timestamp())).encode())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    _assert_401(client, f"{header}.{body}.{_b64(signature)}")


def test_wrong_key_is_refused(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        _claims(identity_settings, account),
        stranger,
        algorithm="ES256",
        headers={"kid": _current(factory).kid},
    )
    _assert_401(client, token)


def test_unknown_kid_is_refused(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    _assert_401(
        client, _sign(factory, identity_settings, _claims(identity_settings, account), kid="nope")
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "https://evil.example"}, id="wrong-issuer"),
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
        pytest.param(
            {
                "iat": datetime.now(UTC) - timedelta(hours=1),
                "nbf": datetime.now(UTC) - timedelta(hours=1),
                "exp": datetime.now(UTC) - timedelta(minutes=5),
            },
            id="expired",
        ),
        pytest.param({"nbf": datetime.now(UTC) + timedelta(minutes=10)}, id="future-nbf"),
        pytest.param({"iat": datetime.now(UTC) + timedelta(minutes=10)}, id="future-iat"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"tid": "0" * 32}, id="other-tenant-claim"),
        pytest.param({"sub": "0" * 32}, id="unknown-subject"),
    ],
)
def test_bad_claims_are_refused(
    client: TestClient,
    factory: Factory,
    account: Account,
    identity_settings: Settings,
    changes: dict[str, Any],
) -> None:
    _assert_401(
        client, _sign(factory, identity_settings, _claims(identity_settings, account, **changes))
    )


def test_tampered_payload_is_refused(
    client: TestClient, factory: Factory, account: Account
) -> None:
    header, body, signature = factory.token(account).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["roles"] = ["platform_admin"]
    forged = _b64(json.dumps(claims).encode())
    _assert_401(client, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Basic abc", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_malformed_credentials_are_refused(
    client: TestClient, account: Account, authorization: str
) -> None:
    response = client.get(WHOAMI, headers={"Authorization": authorization})
    assert response.status_code == 401


def test_disabled_account_token_stops_working_at_once(
    client: TestClient, factory: Factory, account: Account
) -> None:
    admin = factory.account("acme", "admin", {Role.TENANT_ADMIN})
    victim_headers = factory.headers(account)
    assert client.get(WHOAMI, headers=victim_headers).status_code == 200
    response = client.delete(
        f"/api/v1/service-accounts/{account.client_id}", headers=factory.headers(admin)
    )
    assert response.status_code == 204
    assert client.get(WHOAMI, headers=victim_headers).status_code == 401


def test_rotation_keeps_the_previous_key_verifying_then_drops_it(
    client: TestClient, factory: Factory, account: Account, identity_settings: Settings
) -> None:
    secret = identity_settings.secret_key.get_secret_value()
    old_headers = factory.headers(account)
    old_kid = _current(factory).kid
    with db.transaction(factory.sessions) as session:
        keys.rotate(session, secret_key=secret, actor="test")
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert old_kid in published
    assert len(published) == 2
    assert client.get(WHOAMI, headers=old_headers).status_code == 200
    new_token = factory.token(account)
    assert jwt.get_unverified_header(new_token)["kid"] != old_kid
    with db.transaction(factory.sessions) as session:
        keys.rotate(session, secret_key=secret, actor="test")
    assert old_kid not in {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert client.get(WHOAMI, headers=old_headers).status_code == 401
    assert client.get(WHOAMI, headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def test_private_keys_are_encrypted_at_rest(
    factory: Factory, account: Account, identity_settings: Settings
) -> None:
    key = _current(factory)
    assert "PRIVATE KEY" not in key.private_key_encrypted
    assert b"PRIVATE KEY" in keys.private_pem(
        key, secret_key=identity_settings.secret_key.get_secret_value()
    )
    with pytest.raises(InvalidTag):  # AES-GCM authentication fails with the wrong key
        keys.private_pem(key, secret_key="another-secret-key-of-sufficient-length")


def test_issued_token_carries_the_expected_claims(
    factory: Factory, account: Account, identity_settings: Settings
) -> None:
    token = factory.token(account)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES256"
    assert claims["iss"] == identity_settings.token_issuer
    assert claims["aud"] == identity_settings.token_audience
    assert claims["exp"] - claims["iat"] == identity_settings.token_ttl_seconds
    assert claims["tid"] == account.tenant.id
