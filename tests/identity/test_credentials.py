"""The client-credentials token endpoint (RFC 6749 §4.4) and the API key lifecycle."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.vocabulary import Role
from sentimentops.identity.models import ApiKey, ServiceAccount
from tests.identity.conftest import Account, Factory

TOKEN = "/api/v1/auth/token"
WHOAMI = "/api/v1/auth/whoami"


@pytest.fixture
def svc(factory: Factory) -> Account:
    return factory.account("acme", "svc", {Role.ANALYST})


def _form(account: Account, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": account.client_id,
        "client_secret": account.client_secret,
        **extra,
    }


def _actions(factory: Factory) -> list[tuple[str, str]]:
    with factory.sessions() as session:
        rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        return [(e.action, e.outcome) for e in rows]


def test_client_credentials_in_body(client: TestClient, factory: Factory, svc: Account) -> None:
    response = client.post(TOKEN, data=_form(svc))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert response.headers["cache-control"] == "no-store"
    whoami = client.get(WHOAMI, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert whoami.json()["roles"] == ["analyst"]
    assert ("auth.token", "succeeded") in _actions(factory)


def test_client_credentials_with_http_basic(client: TestClient, svc: Account) -> None:
    basic = base64.b64encode(f"{svc.client_id}:{svc.client_secret}".encode()).decode()
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text


def test_wrong_secret_is_invalid_client_and_audited(
    client: TestClient, factory: Factory, svc: Account
) -> None:
    response = client.post(TOKEN, data={**_form(svc), "client_secret": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert ("auth.token", "denied") in _actions(factory)
    unknown = client.post(TOKEN, data={**_form(svc), "client_id": "nobody"})
    assert unknown.status_code == 401
    assert unknown.json() == response.json()  # no hint about which part was wrong


@pytest.mark.parametrize(
    ("form_changes", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": ""}, "invalid_request"),  # §3.1: empty means omitted
        ({"scope": "admin"}, "invalid_scope"),
    ],
)
def test_protocol_errors(
    client: TestClient, svc: Account, form_changes: dict[str, str], error: str
) -> None:
    response = client.post(TOKEN, data={**_form(svc), **form_changes})
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_missing_grant_type_and_json_body_are_invalid_request(
    client: TestClient, svc: Account
) -> None:
    form = _form(svc)
    del form["grant_type"]
    assert client.post(TOKEN, data=form).json()["error"] == "invalid_request"
    response = client.post(TOKEN, json=_form(svc))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_two_client_authentication_methods_are_refused(client: TestClient, svc: Account) -> None:
    basic = base64.b64encode(f"{svc.client_id}:{svc.client_secret}".encode()).decode()
    response = client.post(TOKEN, data=_form(svc), headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 400


def test_secret_rotation_invalidates_the_old_secret(
    client: TestClient, factory: Factory, svc: Account
) -> None:
    admin = factory.account("acme", "admin", {Role.TENANT_ADMIN})
    response = client.post(
        f"/api/v1/service-accounts/{svc.client_id}/secret", headers=factory.headers(admin)
    )
    assert response.status_code == 200
    new_secret = response.json()["client_secret"]
    assert client.post(TOKEN, data=_form(svc)).status_code == 401
    assert client.post(TOKEN, data={**_form(svc), "client_secret": new_secret}).status_code == 200
    with factory.sessions() as session:
        stored = session.get(ServiceAccount, svc.client_id)
        assert stored is not None
        assert new_secret not in (stored.client_secret_hash or "")


def test_api_key_lifecycle(client: TestClient, factory: Factory, svc: Account) -> None:
    admin = factory.account("acme", "admin", {Role.TENANT_ADMIN})
    headers = factory.headers(admin)
    created = client.post(
        f"/api/v1/service-accounts/{svc.client_id}/api-keys", json={"name": "ci"}, headers=headers
    )
    assert created.status_code == 201
    secret = created.json()["api_key"]
    key_id = created.json()["key"]["id"]
    assert secret.startswith("so_")
    assert created.headers["cache-control"] == "no-store"

    # Only a hash is stored; listings never show the key again.
    with factory.sessions() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        assert secret not in row.key_hash
        assert row.last_used_at is None
    listing = client.get("/api/v1/api-keys", headers=headers)
    assert secret not in listing.text
    assert listing.json()[0]["prefix"] in secret

    # Both header forms work, as the service account, and mark the key used.
    for key_headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}):
        whoami = client.get(WHOAMI, headers=key_headers)
        assert whoami.status_code == 200
        assert whoami.json()["subject"] == svc.client_id
        assert whoami.json()["method"] == "api_key"
    assert client.get(f"/api/v1/api-keys/{key_id}", headers=headers).json()["last_used_at"]

    # A wrong secret with a real prefix, and two different credentials, are refused.
    assert client.get(WHOAMI, headers={"X-API-Key": secret[:-4] + "AAAA"}).status_code == 401
    both = {"X-API-Key": secret, "Authorization": f"Bearer {factory.token(svc)}"}
    assert client.get(WHOAMI, headers=both).status_code == 401

    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=headers).status_code == 204
    assert client.get(WHOAMI, headers={"X-API-Key": secret}).status_code == 401
    assert client.get(f"/api/v1/api-keys/{key_id}", headers=headers).json()["revoked"] is True
    actions = _actions(factory)
    assert ("identity.api_key.create", "succeeded") in actions
    assert ("identity.api_key.revoke", "succeeded") in actions
    assert ("auth.authenticate", "denied") in actions


def test_expired_api_key_is_refused(client: TestClient, factory: Factory, svc: Account) -> None:
    admin = factory.account("acme", "admin", {Role.TENANT_ADMIN})
    headers = factory.headers(admin)
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = client.post(
        f"/api/v1/service-accounts/{svc.client_id}/api-keys",
        json={"name": "short", "expires_at": soon.isoformat()},
        headers=headers,
    )
    secret = created.json()["api_key"]
    assert client.get(WHOAMI, headers={"X-API-Key": secret}).status_code == 200
    with factory.sessions() as session, session.begin():
        row = session.get(ApiKey, created.json()["key"]["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get(WHOAMI, headers={"X-API-Key": secret}).status_code == 401
    past = client.post(
        f"/api/v1/service-accounts/{svc.client_id}/api-keys",
        json={"name": "past", "expires_at": "2000-01-01T00:00:00Z"},
        headers=headers,
    )
    assert past.status_code == 422
