"""First-run bootstrap without default credentials, and the `sentimentops admin` commands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sentimentops.app.api import create_app
from sentimentops.app.cli.admin import first_run_bootstrap_token
from sentimentops.app.cli.main import app as cli
from sentimentops.core import db
from sentimentops.identity.models import BootstrapToken, SigningKey
from tests.identity.conftest import make_settings

runner = CliRunner()
BOOTSTRAP = "/api/v1/auth/bootstrap"
ENV_TOKEN = "an-operator-chosen-bootstrap-secret-0123456789"


def _cli(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", url)
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def make_session(url: str) -> Session:
    return db.make_session_factory(db.make_engine(url))()


def _token_of(output: str) -> str:
    match = re.search(r"^([A-Za-z0-9_-]{40,})$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def _exchange(client: TestClient, client_id: str, secret: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
def test_cli_bootstrap_token_works_once(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token_of(_cli(fresh_db_url, monkeypatch, "admin", "bootstrap"))
    with TestClient(create_app(make_settings(fresh_db_url, tmp_path))) as client:
        assert client.post(BOOTSTRAP, json={"bootstrap_token": "guess"}).status_code == 401
        response = client.post(BOOTSTRAP, json={"bootstrap_token": token})
        assert response.status_code == 201, response.text
        created = response.json()
        assert sorted(created["account"]["roles"]) == ["platform_admin", "tenant_admin"]
        headers = _exchange(client, created["client_id"], created["client_secret"])
        assert client.get("/api/v1/tenants", headers=headers).status_code == 200

        # Closed for good: the same token, and any other, are refused.
        assert client.post(BOOTSTRAP, json={"bootstrap_token": token}).status_code == 409
    refused = runner.invoke(cli, ["admin", "bootstrap"])
    assert refused.exit_code == 1
    assert "closed" in refused.output
    with make_session(fresh_db_url) as session:
        stored = session.execute(select(BootstrapToken.token_hash)).scalars().all()
    assert token not in stored  # only the hash was kept


def test_expired_bootstrap_token_is_refused(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token_of(_cli(fresh_db_url, monkeypatch, "admin", "bootstrap"))
    with make_session(fresh_db_url) as session, session.begin():
        session.execute(
            update(BootstrapToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with TestClient(create_app(make_settings(fresh_db_url, tmp_path))) as client:
        assert client.post(BOOTSTRAP, json={"bootstrap_token": token}).status_code == 401


def test_environment_bootstrap_token(fresh_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_db_url, tmp_path, bootstrap_token=ENV_TOKEN)
    with TestClient(create_app(settings)) as client:
        assert client.post(BOOTSTRAP, json={"bootstrap_token": ENV_TOKEN[:-1]}).status_code == 401
        first = client.post(BOOTSTRAP, json={"bootstrap_token": ENV_TOKEN, "name": "root"})
        assert first.status_code == 201
        assert first.json()["account"]["name"] == "root"
        again = client.post(BOOTSTRAP, json={"bootstrap_token": ENV_TOKEN, "name": "root2"})
        assert again.status_code == 409


def test_without_any_bootstrap_token_nothing_gets_in(fresh_db_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(fresh_db_url, tmp_path))) as client:
        assert client.post(BOOTSTRAP, json={"bootstrap_token": ""}).status_code == 422
        assert client.post(BOOTSTRAP, json={"bootstrap_token": "x" * 43}).status_code == 401


def test_short_environment_bootstrap_token_is_refused(fresh_db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BOOTSTRAP_TOKEN"):
        make_settings(fresh_db_url, tmp_path, bootstrap_token="short")


def test_admin_commands(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "created" in _cli(fresh_db_url, monkeypatch, "admin", "create-tenant", "acme")
    output = _cli(
        fresh_db_url,
        monkeypatch,
        "admin",
        "create-service-account",
        "acme",
        "ops",
        "--role",
        "tenant_admin",
        "--role",
        "viewer",
    )
    client_id = re.search(r"client_id:\s+(\w+)", output)
    secret = re.search(r"client_secret:\s+(\S+)", output)
    assert client_id
    assert secret
    key_output = _cli(fresh_db_url, monkeypatch, "admin", "create-api-key", "acme", "ops")
    api_key = re.search(r"api key: (\S+)", key_output)
    assert api_key
    rotated = _cli(fresh_db_url, monkeypatch, "admin", "rotate-signing-key")
    kid = rotated.split(":", 1)[1].strip()
    with TestClient(create_app(make_settings(fresh_db_url, tmp_path))) as client:
        headers = _exchange(client, client_id.group(1), secret.group(1))
        me = client.get("/api/v1/auth/whoami", headers=headers).json()
        assert sorted(me["roles"]) == ["tenant_admin", "viewer"]
        by_key = client.get("/api/v1/auth/whoami", headers={"X-API-Key": api_key.group(1)})
        assert by_key.json()["subject"] == client_id.group(1)
        assert kid in {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    with make_session(fresh_db_url) as session:
        current = session.execute(
            select(SigningKey.kid).where(SigningKey.status == "current")
        ).scalar_one()
    assert current == kid
    duplicate = runner.invoke(cli, ["admin", "create-tenant", "acme"])
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output


def test_first_run_token_for_up_only_until_bootstrapped(fresh_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_db_url, tmp_path)
    token = first_run_bootstrap_token(settings)
    assert token is not None
    with TestClient(create_app(settings)) as client:
        assert client.post(BOOTSTRAP, json={"bootstrap_token": token}).status_code == 201
    assert first_run_bootstrap_token(settings) is None
    configured = make_settings(fresh_db_url, tmp_path, bootstrap_token=ENV_TOKEN)
    assert first_run_bootstrap_token(configured) is None
