"""Fixtures for identity tests: an app over a fresh, migrated database and factories that make
tenants and service accounts through the real services (committed, as the API would)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.app.api import create_app
from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service
from sentimentops.identity.models import Tenant
from tests.apps import fastapi_app


@dataclass(frozen=True)
class Account:
    tenant: Tenant
    client_id: str
    client_secret: str


class Factory:
    """Makes tenants and service accounts in the app's database."""

    def __init__(self, sessions: sessionmaker[Session], client: TestClient) -> None:
        self.sessions = sessions
        self.client = client

    def tenant(self, slug: str) -> Tenant:
        with db.transaction(self.sessions) as session:
            existing = service.tenant_by_slug(session, slug)
            return existing or service.create_tenant(session, actor="test", slug=slug)

    def account(
        self,
        tenant: str,
        name: str,
        roles: set[Role] | frozenset[Role] = frozenset(),
        kind: PrincipalKind = PrincipalKind.SERVICE,
    ) -> Account:
        owner = self.tenant(tenant)
        with db.transaction(self.sessions) as session:
            created = service.create_service_account(
                session,
                actor="test",
                tenant=owner,
                name=name,
                kind=kind,
                roles=frozenset(roles),
            )
        return Account(owner, created.account.id, created.client_secret)

    def token(self, account: Account) -> str:
        response = self.client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": account.client_id,
                "client_secret": account.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def headers(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account)}"}


def make_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    # Any: the overrides are Settings fields of every type, validated by Settings itself.
    return Settings(data_dir=data_dir, database_url=db_url, _env_file=None, **overrides)


@pytest.fixture
def identity_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(fresh_db_url, tmp_path)


@pytest.fixture
def client(identity_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(identity_settings)) as c:
        yield c


@pytest.fixture
def factory(client: TestClient) -> Factory:
    sessions: sessionmaker[Session] = fastapi_app(client).state.sessions
    return Factory(sessions, client)
