"""The plans API over a real app, database, Temporal, OPA and MLflow: propose a plan or a
template, follow it, list the tenant's plans, amend and cancel. Plans act for the caller's
tenant under the caller's name; another tenant sees nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from sentimentops.approvals import service as approvals
from sentimentops.core.db import transaction
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.tools import promotions
from sentimentops.workflows.schemas import PlanStep
from tests.identity.conftest import Factory
from tests.workflows.conftest import (
    TENANT,
    Platform,
    make_plan,
    platform_settings,
    running_platform,
)


@dataclass
class Api:
    http: TestClient
    platform: Platform
    factory: Factory
    engineer: dict[str, str]
    engineer_actor: str

    async def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        """POST from a thread: starting a plan waits for its registry row, which the workflow's
        first activity writes on a worker of this test's loop."""
        return await asyncio.to_thread(
            self.http.post, f"/api/v1/plans{path}", json=body, headers=headers or self.engineer
        )

    async def plan(self, workflow_id: str, statuses: set[str], within: float = 60.0) -> Any:
        """Poll GET /plans/{id} until the registry says one of `statuses`. From a thread: the
        app answers with a workflow query, which the workers on this test's loop serve."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            got = await asyncio.to_thread(
                self.http.get, f"/api/v1/plans/{workflow_id}", headers=self.engineer
            )
            # 404 until the workflow's first activity registers a plan not started by the API.
            assert got.status_code in (200, 404), got.text
            if got.status_code == 200 and got.json()["plan"]["status"] in statuses:
                return got.json()
            assert asyncio.get_running_loop().time() < deadline, got.json()
            await asyncio.sleep(0.2)


@asynccontextmanager
async def running_api(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = platform_settings(
        tmp_path,
        database_url=fresh_db_url,
        temporal_address=temporal_client.service_client.config.target_host,
        temporal_external_ui_url="http://temporal-ui.example",
    )
    app = create_app_for(settings)
    with TestClient(app) as http:
        sessions: sessionmaker[Session] = app.state.sessions
        factory = Factory(sessions, http)
        engineer = factory.account(TENANT, "eng", {Role.ML_ENGINEER})
        async with running_platform(
            temporal_client, opa_url, sessions, tmp_path, settings=settings
        ) as platform:
            yield Api(
                http, platform, factory, factory.headers(engineer), f"service:{engineer.client_id}"
            )


def create_app_for(settings: Settings) -> FastAPI:
    from sentimentops.app.api import create_app

    return create_app(settings)


async def test_propose_follow_list_and_isolate(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with running_api(temporal_client, opa_url, fresh_db_url, tmp_path) as api:
        version = api.platform.register_version()
        accepted = await api.post(
            "",
            {
                "rationale": "stage the new sarcasm model",
                "steps": [
                    {"tool": "get_service_metrics", "params": {"task": "sarcasm"}},
                    {
                        "tool": "promote_model",
                        "params": {"task": "sarcasm", "version": version, "target": "staging"},
                    },
                ],
            },
        )
        assert accepted.status_code == 202, accepted.text
        workflow_id = accepted.json()["workflow_id"]
        assert workflow_id.startswith(f"plan-{TENANT}-")
        assert accepted.json()["status_url"] == f"/api/v1/plans/{workflow_id}"
        assert accepted.json()["workflow_url"].endswith(f"/workflows/{workflow_id}")

        # Registered by the API itself: listed at once.
        listed = api.http.get("/api/v1/plans", headers=api.engineer).json()
        assert [p["id"] for p in listed] == [workflow_id]
        done = await api.plan(workflow_id, {"completed", "failed", "denied"})
        assert done["plan"]["status"] == "completed", done
        assert done["plan"]["tools"] == ["get_service_metrics", "promote_model"]
        assert done["plan"]["proposer"] == api.engineer_actor  # as the audit log names it
        assert [s["status"] for s in done["progress"]["steps"]] == ["succeeded", "succeeded"]
        assert api.platform.alias("staging") == version

        # A plan started elsewhere (the CLI, an agent) is listed too: its workflow records it.
        other = await api.platform.start(
            make_plan(PlanStep(tool="get_service_metrics", params={"task": "sentiment"}))
        )
        await api.plan(other, {"completed"})
        listing = api.http.get("/api/v1/plans", headers=api.engineer)
        assert [p["id"] for p in listing.json()] == [other, workflow_id]
        assert (
            api.http.get("/api/v1/plans?status=completed&limit=1", headers=api.engineer).json()[0][
                "id"
            ]
            == other
        )

        # Another tenant sees nothing and cannot touch it.
        outsider = api.factory.headers(
            api.factory.account("globex", "g-admin", {Role.ML_ENGINEER, Role.TENANT_ADMIN})
        )
        assert api.http.get("/api/v1/plans", headers=outsider).json() == []
        for method, path in (("GET", ""), ("POST", "/cancel")):
            answer = api.http.request(
                method, f"/api/v1/plans/{workflow_id}{path}", headers=outsider
            )
            assert answer.status_code == 404, (method, path)

        # Only proposers' roles propose; unknown tools are refused at the door.
        viewer = api.factory.headers(api.factory.account(TENANT, "vic", {Role.VIEWER}))
        refused = await api.post(
            "", {"rationale": "x", "steps": [{"tool": "get_service_metrics"}]}, headers=viewer
        )
        assert refused.status_code == 403
        assert api.http.get("/api/v1/plans", headers=viewer).status_code == 200
        unknown = await api.post("", {"rationale": "x", "steps": [{"tool": "drop_tables"}]})
        assert unknown.status_code == 422
        assert "no tool named 'drop_tables'" in unknown.json()["detail"]

        # An account holding the agent role is an agent to policy, whatever its kind: a tool
        # off the agents' safe list waits for a human instead of running.
        agent = api.factory.headers(api.factory.account(TENANT, "bot", {Role.AGENT}))
        canary = {"tool": "set_canary", "params": {"task": "sarcasm", "share": 0.2}}
        proposed = await api.post("", {"rationale": "canary", "steps": [canary]}, headers=agent)
        assert proposed.status_code == 202, proposed.text
        held = await api.plan(proposed.json()["workflow_id"], {"waiting_approval", "completed"})
        assert held["plan"]["status"] == "waiting_approval"
        assert "agents may call set_canary only with a human approval" in " ".join(
            held["progress"]["steps"][0]["policy_reasons"]
        )

        # The rollback template.
        first, second = api.platform.register_version(), api.platform.register_version()
        with transaction(api.platform.sessions) as session:
            for v in (first, second):
                promotions.promote(
                    session,
                    api.platform.registry,
                    model_name="sarcasm",
                    version=v,
                    alias="production",
                    actor="test",
                    tenant=TENANT,
                )
        rolled = await api.post("/rollback", {"task": "sarcasm"})
        assert rolled.status_code == 202, rolled.text
        finished = await api.plan(rolled.json()["workflow_id"], {"completed", "failed", "denied"})
        assert finished["plan"]["status"] == "completed", finished
        assert api.platform.alias("production") == first


async def test_amend_and_cancel_only_by_the_proposer(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with running_api(temporal_client, opa_url, fresh_db_url, tmp_path) as api:
        version = api.platform.register_version()
        colleague = api.factory.headers(api.factory.account(TENANT, "eng2", {Role.ML_ENGINEER}))
        admin = api.factory.headers(api.factory.account(TENANT, "adm", {Role.TENANT_ADMIN}))
        promote = {
            "tool": "promote_model",
            "params": {"task": "sarcasm", "version": version, "target": "production"},
        }
        waiting_id = (await api.post("", {"rationale": "ship it", "steps": [promote]})).json()[
            "workflow_id"
        ]
        waiting = await api.plan(waiting_id, {"waiting_approval"})
        approval_id = waiting["progress"]["steps"][0]["approval_id"]

        # Someone else could amend in a step and approve it: refused, and so is their cancel.
        amend = {"steps": [{"tool": "get_service_metrics", "params": {"task": "sarcasm"}}]}
        assert (await api.post(f"/{waiting_id}/amend", amend, headers=colleague)).status_code == 403
        assert (await api.post(f"/{waiting_id}/cancel", {}, headers=colleague)).status_code == 403

        assert (await api.post(f"/{waiting_id}/amend", amend)).status_code == 202
        amended = await api.plan(waiting_id, {"completed", "failed"})
        assert amended["plan"]["status"] == "completed", amended
        assert amended["progress"]["plan_hash"] != waiting["plan"]["plan_hash"]
        assert api.platform.alias("production") is None
        with api.platform.sessions() as session:
            assert (
                approvals.get_request(
                    session, principal=_any_reader(api, session), approval_id=approval_id
                ).status
                == "superseded"
            )
        assert (await api.post(f"/{waiting_id}/cancel", {})).status_code == 409  # already ended

        # The proposer cancels a plan waiting for approval: the approval closes as cancelled.
        second = (await api.post("", {"rationale": "ship it", "steps": [promote]})).json()[
            "workflow_id"
        ]
        second_approval = (await api.plan(second, {"waiting_approval"}))["progress"]["steps"][0][
            "approval_id"
        ]
        assert (await api.post(f"/{second}/cancel", {})).status_code == 202
        await api.plan(second, {"cancelled"})
        with api.platform.sessions() as session:
            assert (
                approvals.get_request(
                    session, principal=_any_reader(api, session), approval_id=second_approval
                ).status
                == "cancelled"
            )

        # A tenant admin cancels someone's plan sleeping in a soak timer.
        soak = {"tool": "get_service_metrics", "params": {"task": "sarcasm"}, "delay_seconds": 3600}
        sleeping = (await api.post("", {"rationale": "long soak", "steps": [soak]})).json()[
            "workflow_id"
        ]
        await asyncio.sleep(0.5)
        assert (await api.post(f"/{sleeping}/cancel", {}, headers=admin)).status_code == 202
        cancelled = await api.plan(sleeping, {"cancelled"})
        assert cancelled["progress"]["status"] == "cancelled"
        described = await api.platform.client.get_workflow_handle(sleeping).describe()
        assert described.status == WorkflowExecutionStatus.CANCELED


def _any_reader(api: Api, session: Session) -> Any:
    from tests.workflows.conftest import approver

    return approver(api.platform.tenant)


async def test_sentries_start_list_and_stop_per_tenant(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    try:
        await _sentries_start_list_and_stop(temporal_client, opa_url, fresh_db_url, tmp_path)
    finally:
        # The dev server is shared by the session: a sentry left running (a failed assertion)
        # would refuse the sentry tests' own start of the same workflow id.
        with contextlib.suppress(RPCError):
            await temporal_client.get_workflow_handle(f"sentry-{TENANT}-sarcasm").terminate()


async def _sentries_start_list_and_stop(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with running_api(temporal_client, opa_url, fresh_db_url, tmp_path) as api:
        body = {"task": "sarcasm", "interval_seconds": 3600, "window_seconds": 600}
        viewer = api.factory.headers(api.factory.account(TENANT, "vic", {Role.VIEWER}))
        assert api.http.post("/api/v1/sentries", json=body, headers=viewer).status_code == 403

        started = api.http.post("/api/v1/sentries", json=body, headers=api.engineer)
        assert started.status_code == 202, started.text
        assert started.json()["running"] is True
        assert started.json()["workflow_id"] == f"sentry-{TENANT}-sarcasm"
        again = api.http.post("/api/v1/sentries", json=body, headers=api.engineer)
        assert again.status_code == 409

        listed = {s["task"]: s for s in api.http.get("/api/v1/sentries", headers=viewer).json()}
        assert (listed["sarcasm"]["running"], listed["sentiment"]["running"]) == (True, False)
        outsider = api.factory.headers(api.factory.account("globex", "g-eng", {Role.ML_ENGINEER}))
        theirs = api.http.get("/api/v1/sentries", headers=outsider).json()
        assert not any(s["running"] for s in theirs)  # globex's own (none), never acme's
        assert api.http.delete("/api/v1/sentries?task=sarcasm", headers=outsider).status_code == 404

        # Its first check runs at once and is a plan, listed only when asked for.
        for _ in range(100):
            checks = api.http.get("/api/v1/plans?sentry=true", headers=api.engineer).json()
            if checks and checks[0]["status"] != "running":
                break
            await asyncio.sleep(0.2)
        assert checks[0]["id"] == f"sentry-{TENANT}-sarcasm-check-1"
        assert checks[0]["proposer"] == "deployment-sentry"
        assert api.http.get("/api/v1/plans", headers=api.engineer).json() == []

        stopped = api.http.delete("/api/v1/sentries?task=sarcasm", headers=api.engineer)
        assert stopped.status_code == 202, stopped.text
        # The check in progress is cancelled with the sentry: on a loaded machine its activity
        # learns of it at its next heartbeat, seconds later.
        deadline = asyncio.get_running_loop().time() + 90
        while True:
            sentries = api.http.get("/api/v1/sentries", headers=viewer).json()
            state = next(s for s in sentries if s["task"] == "sarcasm")
            if not state["running"] or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert state["status"] == "CANCELED"
        assert (
            api.http.delete("/api/v1/sentries?task=sarcasm", headers=api.engineer).status_code
            == 404
        )
