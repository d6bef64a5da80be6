"""Authorization: which routes are public, roles × privileged operations, audited denials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.app.api import create_app
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.http.deps import public_route
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.identity.deps import get_principal
from tests.identity.conftest import Account, Factory
from tests.test_api import api_routes

# Adding a public route is a security decision: it must be added here, on purpose.
EXPECTED_PUBLIC = {
    ("GET", "/"),
    # The web UI's files and client-side routes (app/ui.py): no tenant data; never /api/….
    ("GET", "/{path:ui_path}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/version"),
    ("GET", "/.well-known/jwks.json"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/bootstrap"),
}


def test_public_routes_are_exactly_the_expected_ones(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, _env_file=None))
    public, authenticated = set(), set()
    for path, methods, calls in api_routes(app):
        for method in methods:
            if public_route in calls:
                public.add((method, path))
            if get_principal in calls:
                authenticated.add((method, path))
    assert public == EXPECTED_PUBLIC
    assert not public & authenticated
    assert ("GET", "/api/v1/auth/whoami") in authenticated


def test_every_authenticated_route_refuses_anonymous_callers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method in operations:
            if (method.upper(), path) in EXPECTED_PUBLIC:
                continue
            concrete = path.replace("{role}", "viewer")
            for name in ("tenant_id", "account_id", "key_id"):
                concrete = concrete.replace("{" + name + "}", "0" * 32)
            response = client.request(method.upper(), concrete)
            assert response.status_code == 401, (method, path, response.status_code)


# Each privileged operation and the roles that may perform it (all roles of one tenant).
Operation = Callable[[TestClient, dict[str, str], Account], int]


def _create_tenant(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.post("/api/v1/tenants", json={"slug": "newco"}, headers=h).status_code


def _list_tenants(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.get("/api/v1/tenants", headers=h).status_code


def _update_tenant(c: TestClient, h: dict[str, str], t: Account) -> int:
    url = f"/api/v1/tenants/{t.tenant.id}"
    return c.patch(url, json={"rate_limit_burst": 500}, headers=h).status_code


def _list_accounts(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.get("/api/v1/service-accounts", headers=h).status_code


def _create_account(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.post("/api/v1/service-accounts", json={"name": "made"}, headers=h).status_code


def _grant_viewer(c: TestClient, h: dict[str, str], t: Account) -> int:
    return c.put(f"/api/v1/service-accounts/{t.client_id}/roles/viewer", headers=h).status_code


def _grant_platform_admin(c: TestClient, h: dict[str, str], t: Account) -> int:
    url = f"/api/v1/service-accounts/{t.client_id}/roles/platform_admin"
    return c.put(url, headers=h).status_code


def _create_key(c: TestClient, h: dict[str, str], t: Account) -> int:
    url = f"/api/v1/service-accounts/{t.client_id}/api-keys"
    return c.post(url, json={"name": "k"}, headers=h).status_code


def _list_keys(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.get("/api/v1/api-keys", headers=h).status_code


def _get_own_tenant(c: TestClient, h: dict[str, str], t: Account) -> int:
    return c.get(f"/api/v1/tenants/{t.tenant.id}", headers=h).status_code


def _whoami(c: TestClient, h: dict[str, str], _t: Account) -> int:
    return c.get("/api/v1/auth/whoami", headers=h).status_code


ALL = frozenset(Role)
MATRIX: dict[str, tuple[Operation, frozenset[Role]]] = {
    "create tenant": (_create_tenant, frozenset({Role.PLATFORM_ADMIN})),
    "list tenants": (_list_tenants, frozenset({Role.PLATFORM_ADMIN})),
    "update tenant": (_update_tenant, frozenset({Role.PLATFORM_ADMIN})),
    "list service accounts": (_list_accounts, frozenset({Role.TENANT_ADMIN})),
    "create service account": (_create_account, frozenset({Role.TENANT_ADMIN})),
    "grant viewer": (_grant_viewer, frozenset({Role.TENANT_ADMIN})),
    "grant platform_admin": (_grant_platform_admin, frozenset({Role.PLATFORM_ADMIN})),
    "create API key": (_create_key, frozenset({Role.TENANT_ADMIN})),
    "list API keys": (_list_keys, frozenset({Role.TENANT_ADMIN})),
    "read own tenant": (_get_own_tenant, ALL),
    "whoami": (_whoami, ALL),
}


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_role_operation_matrix(client: TestClient, factory: Factory, role: Role) -> None:
    caller = factory.account("acme", f"caller-{role.value}", {role})
    headers = factory.headers(caller)
    outcomes: dict[str, int] = {}
    for name, (operation, allowed) in MATRIX.items():
        target = factory.account("acme", f"target-{role.value}-{len(outcomes)}")
        status = operation(client, headers, target)
        outcomes[name] = status
        if role in allowed:
            assert 200 <= status < 300, (role, name, status)
        else:
            assert status == 403, (role, name, status)
    denied = sum(1 for _, allowed in MATRIX.values() if role not in allowed)
    with factory.sessions() as session:
        audited = session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "authz.deny", AuditEvent.actor == f"service:{caller.client_id}"
            )
        ).all()
    assert len(audited) == denied


def test_a_caller_without_roles_is_authenticated_but_may_do_nothing(
    client: TestClient, factory: Factory
) -> None:
    nobody = factory.account("acme", "nobody")
    headers = factory.headers(nobody)
    assert client.get("/api/v1/auth/whoami", headers=headers).json()["roles"] == []
    assert client.get(f"/api/v1/tenants/{nobody.tenant.id}", headers=headers).status_code == 403


def test_tenant_fields_without_an_unset_state_refuse_null(
    client: TestClient, factory: Factory
) -> None:
    platform = factory.account("platform-ops", "root", {Role.PLATFORM_ADMIN})
    tenant = factory.account("nully", "svc", {Role.VIEWER}).tenant
    for field in ("display_name", "disabled", "store_prediction_texts"):
        response = client.patch(
            f"/api/v1/tenants/{tenant.id}", json={field: None}, headers=factory.headers(platform)
        )
        assert response.status_code == 422, (field, response.text)
        assert "cannot be null" in response.json()["detail"]
    # null still clears a rate-limit override (back to the platform default).
    cleared = client.patch(
        f"/api/v1/tenants/{tenant.id}",
        json={"rate_limit_burst": None},
        headers=factory.headers(platform),
    )
    assert cleared.status_code == 200, cleared.text
