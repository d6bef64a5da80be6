"""The approvals API over a real app, database, Temporal and OPA: an approver approves a
waiting production promotion over HTTP and the workflow continues; the proposer is refused."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.app.api import create_app
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.vocabulary import Role
from sentimentops.workflows.schemas import PlanStep
from tests.identity.conftest import Factory
from tests.workflows.conftest import TENANT, make_plan, platform_settings, running_platform


async def test_approve_over_http_continues_the_workflow(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(
        tmp_path,
        database_url=fresh_db_url,
        temporal_address=temporal_client.service_client.config.target_host,
        temporal_external_ui_url="http://temporal-ui.example",
        opa_url=opa_url,
    )
    app = create_app(settings)
    with TestClient(app) as http:
        sessions: sessionmaker[Session] = app.state.sessions
        factory = Factory(sessions, http)
        proposer = factory.account(TENANT, "prop", {Role.ML_ENGINEER, Role.APPROVER})
        checker = factory.account(TENANT, "checker", {Role.APPROVER})
        outsider = factory.account("globex", "globex-approver", {Role.APPROVER})
        async with running_platform(
            temporal_client, opa_url, sessions, tmp_path, settings=settings
        ) as platform:
            version = platform.register_version()
            plan = make_plan(
                PlanStep(
                    tool="promote_model",
                    params={"task": "sarcasm", "target": "production", "version": version},
                ),
                proposer=PolicyPrincipal(
                    subject=proposer.client_id, roles=["ml_engineer"], tenant=TENANT
                ),
            )
            workflow_id = await platform.start(plan)
            waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
            approval_id = waiting.steps[0].approval_id

            listing = http.get("/api/v1/approvals", headers=factory.headers(checker))
            assert listing.status_code == 200
            [item] = listing.json()
            assert (item["id"], item["status"], item["plan_hash"]) == (
                approval_id,
                "pending",
                waiting.plan_hash,
            )
            assert item["workflow_url"].endswith(f"/workflows/{workflow_id}")
            # Another tenant's approver sees nothing and cannot decide (404, not 403).
            other = factory.headers(outsider)
            assert http.get("/api/v1/approvals", headers=other).json() == []
            assert (
                http.post(
                    f"/api/v1/approvals/{approval_id}/approve", json={}, headers=other
                ).status_code
                == 404
            )
            # The proposer holds the approver role, and is still refused.
            refused = http.post(
                f"/api/v1/approvals/{approval_id}/approve",
                json={},
                headers=factory.headers(proposer),
            )
            assert refused.status_code == 403
            assert "proposer" in refused.json()["detail"]

            approved = http.post(
                f"/api/v1/approvals/{approval_id}/approve",
                json={"plan_hash": waiting.plan_hash, "comment": "looks good"},
                headers=factory.headers(checker),
            )
            assert approved.status_code == 200, approved.text
            assert approved.json()["status"] == "approved"
            done = await platform.wait_for(workflow_id, {"completed", "failed"})
            assert done.status == "completed", done.message
            assert platform.alias("production") == version
            # A second decision is refused: the request is closed.
            again = http.post(
                f"/api/v1/approvals/{approval_id}/reject", json={}, headers=factory.headers(checker)
            )
            assert again.status_code == 409
        with sessions() as session:
            outcomes = session.execute(
                select(AuditEvent.action, AuditEvent.outcome).where(
                    AuditEvent.resource == f"approval/{approval_id}"
                )
            ).all()
        assert [tuple(o) for o in outcomes] == [
            ("approval.request", "pending"),
            ("approval.decide", "refused"),
            ("approval.approve", "approved"),
            ("approval.decide", "refused"),
        ]
