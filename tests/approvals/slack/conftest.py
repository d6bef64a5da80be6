"""Fixtures of the Slack app's tests: the Slack stand-in, the API with the Slack settings
pointing at it, and a harness that sends it requests signed as Slack signs them. The platform
(Temporal, OPA, the database, MLflow) and the docs' knowledge base come from tests/workflows and
tests/agents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.app.api import create_app
from sentimentops.approvals.slack import links
from sentimentops.approvals.slack.app import SlackApp
from sentimentops.approvals.slack.notifier import SlackNotifier
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import transaction
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from tests.agents.conftest import docs_knowledge
from tests.agents.test_agents_api import app_knowledge
from tests.approvals.slack.stand_in import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackStandIn,
    signed,
    slack_stand_in,
)
from tests.apps import fastapi_app
from tests.identity.conftest import Account, Factory
from tests.knowledge_base.conftest import encoder, encoder_file
from tests.workflows.conftest import (
    Platform,
    app_sessions,
    platform,
    platform_settings,
    running_platform,
)

__all__ = ["app_sessions", "docs_knowledge", "encoder", "encoder_file", "platform"]

TEAM = "T0TEAM001"
OTHER_TEAM = "T0TEAM002"
CHANNEL = "C0APPROVE1"
OTHER_CHANNEL = "C0GLOBEX01"


@pytest.fixture
def stand_in() -> Iterator[SlackStandIn]:
    with slack_stand_in() as server:
        yield server


def slack_settings(
    tmp_path: Path, db_url: str, stand_in: SlackStandIn, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": stand_in.url,
        "slack_update_seconds": 0.3,
        "web_ui_url": "https://ops.example.test",
        "serving_tasks": [],
        **overrides,
    }
    return platform_settings(tmp_path, **values)


def admin_of(tenant: Tenant) -> Principal:
    return Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject="admin",
        name="admin",
        kind=PrincipalKind.HUMAN,
        roles=frozenset({Role.TENANT_ADMIN}),
        method=AuthMethod.FIRST_PARTY,
    )


class Answered(Protocol):
    """What the tests read of a test client's response (httpx's or httpx2's class)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...


@dataclass
class Harness:
    """The API (its Slack app wired to the stand-in) behind a TestClient."""

    http: TestClient
    stand_in: SlackStandIn
    factory: Factory

    @property
    def slack(self) -> SlackApp:
        slack: SlackApp = fastapi_app(self.http).state.slack
        return slack

    @property
    def sessions(self) -> sessionmaker[Session]:
        sessions: sessionmaker[Session] = fastapi_app(self.http).state.sessions
        return sessions

    async def send(
        self, body: bytes, *, form: bool = False, headers: dict[str, str] | None = None
    ) -> Answered:
        """POST /slack/events as Slack would (signed now unless `headers` say otherwise), then
        wait for the work the app started after its acknowledgement."""
        content_type = "application/x-www-form-urlencoded" if form else "application/json"
        sent = {"Content-Type": content_type, **(signed(body) if headers is None else headers)}
        response = await asyncio.to_thread(
            self.http.post, "/slack/events", content=body, headers=sent
        )
        await self.drain()
        return response

    async def drain(self) -> None:
        portal = self.http.portal
        assert portal is not None
        await asyncio.to_thread(portal.call, self.slack.drain)

    def link(
        self, tenant: str, team: str, channel: str, *people: tuple[str, str, set[Role]]
    ) -> dict[str, Account]:
        """Map `team` to `tenant` and link each (Slack user, account name, roles)."""
        owner = self.factory.tenant(tenant)
        admin = admin_of(owner)
        made = {}
        with transaction(self.sessions) as session:
            links.map_workspace(session, principal=admin, team_id=team, channel_id=channel)
        for user, name, roles in people:
            account = self.factory.account(tenant, name, roles)
            with transaction(self.sessions) as session:
                links.link_user(session, principal=admin, slack_user_id=user, account=name)
            made[user] = account
        return made

    def audit(self, action: str) -> list[AuditEvent]:
        with self.sessions() as session:
            query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            return list(session.execute(query).scalars())


@asynccontextmanager
async def running_harness(
    settings: Settings, stand_in: SlackStandIn, knowledge: KnowledgeRuntime | None = None
) -> AsyncIterator[Harness]:
    app = create_app(settings, knowledge=knowledge)
    with TestClient(app) as http:
        yield Harness(http, stand_in, Factory(fastapi_app(http).state.sessions, http))


def slack_notifier(harness: Harness, settings: Settings | None = None) -> SlackNotifier:
    """The Slack notifier the worker would have, talking to the stand-in."""
    return SlackNotifier(
        settings or fastapi_app(harness.http).state.settings,
        sessions=harness.sessions,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=harness.stand_in.url),
    )


@asynccontextmanager
async def running_slack_platform(
    temporal_client: Client,
    opa_url: str,
    fresh_db_url: str,
    tmp_path: Path,
    stand_in: SlackStandIn,
    docs_knowledge: KnowledgeService,
) -> AsyncIterator[tuple[Harness, Platform]]:
    """The API with the Slack app and a platform (worker, OPA, Temporal) whose notifier posts
    to the stand-in, on one database: a whole Slack conversation end to end."""
    settings = slack_settings(
        tmp_path,
        fresh_db_url,
        stand_in,
        opa_url=opa_url,
        temporal_address=temporal_client.service_client.config.target_host,
    )
    async with (
        running_harness(settings, stand_in, app_knowledge(settings, docs_knowledge)) as harness,
        running_platform(
            temporal_client,
            opa_url,
            harness.sessions,
            tmp_path,
            notifier=slack_notifier(harness, settings),
            settings=settings,
        ) as platform,
    ):
        yield harness, platform


@pytest.fixture
async def harness(
    fresh_db_url: str, tmp_path: Path, stand_in: SlackStandIn, opa_url: str, temporal_client: Client
) -> AsyncIterator[Harness]:
    settings = slack_settings(
        tmp_path,
        fresh_db_url,
        stand_in,
        opa_url=opa_url,
        temporal_address=temporal_client.service_client.config.target_host,
    )
    async with running_harness(settings, stand_in) as value:
        yield value
