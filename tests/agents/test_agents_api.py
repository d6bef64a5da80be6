"""The agents API over a real app, database, Temporal, OPA and MLflow, with the default
(deterministic) planner and the app's knowledge base: a conversation streamed as server-sent
events, the runbook cited and quoted, a draft revised and submitted, the plan waiting for a human
approval and finishing after someone else approves, the thread surviving an API restart, and
threads private to their creator and tenant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.app.api import create_app
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from sentimentops.tools import promotions
from tests.identity.conftest import Account, Factory
from tests.workflows.conftest import TENANT, Platform, platform_settings, running_platform

pytestmark = pytest.mark.timeout(300)


def parse_sse(body: str) -> list[dict[str, Any]]:
    """The stream's events: each `event:` line must name the type its `data:` JSON carries."""
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"], block
        events.append(data)
    return events


@dataclass
class Api:
    http: TestClient
    platform: Platform
    factory: Factory
    engineer_account: Account
    engineer: dict[str, str]

    def promote(self, task: str, times: int) -> list[str]:
        """`times` versions promoted to production one after the other (a rollback history)."""
        versions = []
        for _ in range(times):
            version = self.platform.register_version(task, alias="candidate")
            with transaction(self.platform.sessions) as session:
                promotions.promote(
                    session,
                    self.platform.registry,
                    model_name=task,
                    version=version,
                    alias="production",
                    actor="test",
                    tenant=TENANT,
                )
            versions.append(version)
        return versions

    async def stream(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """POST a message or decision; the events of the turn. From a thread: the turn may
        start a plan, whose first activity runs on a worker of this test's loop."""
        response = await asyncio.to_thread(
            self.http.post, path, json=body, headers=headers or self.engineer
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.text)

    async def plan(self, workflow_id: str, statuses: set[str], within: float = 90.0) -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            got = await asyncio.to_thread(
                self.http.get, f"/api/v1/plans/{workflow_id}", headers=self.engineer
            )
            if got.status_code == 200 and got.json()["plan"]["status"] in statuses:
                return got.json()
            assert asyncio.get_running_loop().time() < deadline, got.text
            await asyncio.sleep(0.2)


def agents_settings(tmp_path: Path, temporal_client: Client, opa_url: str, db_url: str) -> Settings:
    return platform_settings(
        tmp_path,
        database_url=db_url,
        temporal_address=temporal_client.service_client.config.target_host,
        opa_url=opa_url,
    )


def app_knowledge(settings: Settings, service: KnowledgeService) -> KnowledgeRuntime:
    """The app's knowledge base over the session's docs store (not an encoder export and an
    empty store in this test's data directory)."""
    return KnowledgeRuntime(
        settings,
        sessions=make_session_factory(make_engine(settings.resolved_database_url)),
        registry=lambda: MlflowRegistry(settings.resolved_mlflow_tracking_uri, read_only=True),
        service=service,
    )


@asynccontextmanager
async def running_api(
    settings: Settings,
    temporal_client: Client,
    opa_url: str,
    knowledge: KnowledgeRuntime,
    engineer: Account | None = None,
) -> AsyncIterator[Api]:
    """The app and workers; `engineer` is an account made by an earlier run (a restart)."""
    app = create_app(settings, knowledge=knowledge)
    with TestClient(app) as http:
        sessions: sessionmaker[Session] = app.state.sessions
        factory = Factory(sessions, http)
        engineer = engineer or factory.account(TENANT, "eng", {Role.ML_ENGINEER})
        async with running_platform(
            temporal_client, opa_url, sessions, settings.data_dir.parent, settings=settings
        ) as platform:
            yield Api(http, platform, factory, engineer, factory.headers(engineer))


# PostgreSQL too: threads are then checkpointed by LangGraph's Postgres saver in that database.
@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_conversation_draft_revision_submit_approval_and_restart(
    temporal_client: Client,
    opa_url: str,
    fresh_db_url: str,
    tmp_path: Path,
    docs_knowledge: KnowledgeService,
) -> None:
    settings = agents_settings(tmp_path, temporal_client, opa_url, fresh_db_url)
    knowledge = app_knowledge(settings, docs_knowledge)
    async with running_api(settings, temporal_client, opa_url, knowledge) as api:
        _first, old, new = api.promote("sarcasm", 3)
        assert api.platform.alias("production") == new

        created = api.http.post("/api/v1/agents/threads", json={}, headers=api.engineer)
        assert created.status_code == 201, created.text
        thread = created.json()["id"]
        base = f"/api/v1/agents/threads/{thread}"

        events = await api.stream(f"{base}/messages", {"content": "roll sarcasm back"})
        kinds = [e["type"] for e in events]
        assert {"tool_call", "tool_result"} <= set(kinds), kinds
        assert kinds[-1] == "draft_plan", events
        draft = events[-1]["draft"]
        assert [s["tool"] for s in draft["steps"]] == ["rollback_model"]
        assert draft["steps"][0]["params"]["task"] == "sarcasm"
        assert any(f"v{new}" in line for line in draft["diff"]), draft["diff"]
        assert draft["evidence"], draft
        # The app's knowledge base, searched by the agent: the runbook is cited.
        [retrieval] = [e for e in events if e["type"] == "retrieval"]
        assert retrieval["sources"] == ["docs/runbooks.md › Rolling back a model"]
        assert "See docs/runbooks.md › Rolling back a model." in draft["rationale"]

        # A how-to question is answered from the runbook, quoted; the draft keeps waiting.
        events = await api.stream(f"{base}/messages", {"content": "how do I roll back a model?"})
        assert [e["type"] for e in events][-1] == "answer", events
        assert '1. docs/runbooks.md › Rolling back a model: "' in events[-1]["text"]
        waiting = api.http.get(base, headers=api.engineer).json()
        assert waiting["draft"]["plan_hash"] == draft["plan_hash"]

        # A revision is a new draft with its own hash.
        events = await api.stream(f"{base}/messages", {"content": "make it two versions back"})
        revised = events[-1]["draft"]
        assert revised["revision"] == 2
        assert revised["steps"][0]["params"]["steps"] == 2
        assert revised["plan_hash"] != draft["plan_hash"]

        # Only the waiting revision can be submitted.
        stale = api.http.post(
            f"{base}/decision", json={"action": "submit", "revision": 1}, headers=api.engineer
        )
        assert stale.status_code == 409, stale.text
        # Back to one version, then submit that.
        events = await api.stream(f"{base}/messages", {"content": "only one version"})
        final = events[-1]["draft"]
        assert final["revision"] == 3
        assert final["steps"][0]["params"].get("steps", 1) == 1
        events = await api.stream(f"{base}/decision", {"action": "submit", "revision": 3})
        assert [e["type"] for e in events] == ["submitted"], events
        accepted = events[0]["plan"]
        assert accepted["plan_hash"] == final["plan_hash"]
        workflow_id = accepted["workflow_id"]

        # The agent's plan waits for a human before it changes anything.
        waiting = await api.plan(workflow_id, {"waiting_approval"})
        assert waiting["plan"]["proposer"].startswith("agent:")
        assert api.platform.alias("production") == new
        approvals = api.http.get("/api/v1/approvals", headers=api.engineer)
        # The person who asked sees the request but is not its approver.
        [request] = [a for a in approvals.json() if a["workflow_id"] == workflow_id]
        approver = api.factory.headers(api.factory.account(TENANT, "ops", {Role.APPROVER}))
        decided = await asyncio.to_thread(
            api.http.post,
            f"/api/v1/approvals/{request['id']}/approve",
            json={"plan_hash": final["plan_hash"]},
            headers=approver,
        )
        assert decided.status_code == 200, decided.text
        done = await api.plan(workflow_id, {"completed", "failed", "denied"})
        assert done["plan"]["status"] == "completed", done
        assert api.platform.alias("production") == old

        # Every read the agent made is audited under its own name, with the thread id.
        with api.platform.sessions() as session:
            reads = (
                session.execute(select(AuditEvent).where(AuditEvent.action == "agent.read"))
                .scalars()
                .all()
            )
        assert reads
        assert all(r.actor.startswith("agent:") for r in reads)
        assert all(r.details["thread_id"] == thread for r in reads)

        first = api
        # Threads are private: another person of the tenant, or another tenant, sees nothing.
        colleague = api.factory.headers(api.factory.account(TENANT, "eng2", {Role.ML_ENGINEER}))
        outsider = api.factory.headers(
            api.factory.account("globex", "globex-eng", {Role.ML_ENGINEER})
        )
        for headers in (colleague, outsider):
            assert api.http.get(base, headers=headers).status_code == 404
            message = api.http.post(f"{base}/messages", json={"content": "hi"}, headers=headers)
            assert message.status_code == 404
            assert api.http.get("/api/v1/agents/threads", headers=headers).json() == []

    # A new API process on the same database: the conversation is still there.
    async with running_api(
        settings, temporal_client, opa_url, knowledge, first.engineer_account
    ) as api:
        got = api.http.get(base, headers=api.engineer)
        assert got.status_code == 200, got.text
        thread_out = got.json()
        assert thread_out["submitted"] == [workflow_id]
        assert thread_out["draft"] is None
        assert thread_out["messages"][0] == {"role": "user", "content": "roll sarcasm back"}
        events = await api.stream(f"{base}/messages", {"content": "is the sarcasm model drifting?"})
        assert events[-1]["type"] == "answer", events


async def test_viewers_ask_but_cannot_submit_and_agents_cannot_chat(
    temporal_client: Client,
    opa_url: str,
    fresh_db_url: str,
    tmp_path: Path,
    docs_knowledge: KnowledgeService,
) -> None:
    settings = agents_settings(tmp_path, temporal_client, opa_url, fresh_db_url)
    knowledge = app_knowledge(settings, docs_knowledge)
    async with running_api(settings, temporal_client, opa_url, knowledge) as api:
        api.promote("sentiment", 2)
        viewer = api.factory.headers(api.factory.account(TENANT, "viewer", {Role.VIEWER}))
        thread = api.http.post("/api/v1/agents/threads", json={}, headers=viewer).json()["id"]
        base = f"/api/v1/agents/threads/{thread}"
        events = await api.stream(f"{base}/messages", {"content": "roll sentiment back"}, viewer)
        revision = events[-1]["draft"]["revision"]
        refused = api.http.post(
            f"{base}/decision", json={"action": "submit", "revision": revision}, headers=viewer
        )
        assert refused.status_code == 403, refused.text
        dropped = await api.stream(
            f"{base}/decision", {"action": "drop", "revision": revision}, viewer
        )
        assert [e["type"] for e in dropped] == ["dropped"]

        robot = api.factory.headers(api.factory.account(TENANT, "robot", {Role.AGENT}))
        assert api.http.post("/api/v1/agents/threads", json={}, headers=robot).status_code == 403
        too_long = api.http.post(f"{base}/messages", json={"content": "x" * 4001}, headers=viewer)
        assert too_long.status_code == 422
