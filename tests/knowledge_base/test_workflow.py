"""The knowledge base on real Temporal: KnowledgeBaseReindex indexes every scope (docs, models,
each tenant's plans, incidents, audit summaries and uploads) and, run again, embeds nothing;
other processes search and read the status through the knowledge base's queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from sentimentops.core import db
from sentimentops.core.audit import service as audit
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.settings import Settings
from sentimentops.identity import service as identity
from sentimentops.knowledge_base.models import KbDocument
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from sentimentops.knowledge_base.workflow import RemoteKnowledge, build_knowledge_worker
from sentimentops.workflows import service as plans
from sentimentops.workflows.schemas import SENTRY_SUBJECT
from tests.identity.conftest import make_settings

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)


def _plan(session: Session, tenant: str, workflow_id: str, proposer: str, status: str) -> None:
    plans.record_started(
        session,
        workflow_id=workflow_id,
        tenant=tenant,
        proposer=proposer,
        plan_hash="a" * 64,
        rationale=f"{proposer} asked for {workflow_id}",
        tools=["get_service_metrics", "rollback_model"],
    )
    message = "soak gate failed: latency_p95_ms 91.0 above 50.0; production rolled back to v3"
    plans.record_finished(session, workflow_id=workflow_id, status=status, message=message)


@pytest.fixture
def settings(fresh_db_url: str, tmp_path: Path, temporal_env: WorkflowEnvironment) -> Settings:
    return make_settings(
        fresh_db_url,
        tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"kb-test-{uuid.uuid4().hex[:8]}",
    )


async def test_reindex_covers_every_scope_and_again_embeds_nothing(
    settings: Settings, service: KnowledgeService, temporal_env: WorkflowEnvironment
) -> None:
    sessions = db.make_session_factory(db.make_engine(settings.resolved_database_url))
    with db.transaction(sessions) as session:
        acme = identity.create_tenant(session, actor="test", slug="acme")
        globex = identity.create_tenant(session, actor="test", slug="globex")
        _plan(session, "acme", "plan-acme-1", "alice", "completed")
        _plan(session, "acme", "check-1", SENTRY_SUBJECT, "gate_failed")
        _plan(session, "acme", "check-2", SENTRY_SUBJECT, "completed")  # routine: not indexed
        audit.record(
            session, actor="alice", tenant="acme", action="kb.upload", resource="x", outcome="ok"
        )
        session.add(
            KbDocument(
                id=uuid.uuid4().hex,
                tenant_id=acme.id,
                name="oncall.md",
                media_type="text/markdown",
                sha256="b" * 64,
                size_bytes=40,
                text="# On call\nPage the ML on-call for sarcasm outages.",
                created_by="alice",
                created_at=datetime.now(UTC),
            )
        )
    registry = MlflowRegistry(settings.resolved_mlflow_tracking_uri, read_only=True)
    runtime = KnowledgeRuntime(
        settings, sessions=sessions, registry=lambda: registry, service=service
    )
    remote = RemoteKnowledge(settings)
    async with build_knowledge_worker(temporal_env.client, settings, runtime):
        first = await remote.reindex(None)
        by_scope = {s.scope: s for s in first.scopes}
        assert set(by_scope) >= {"docs", "models", f"tenant:{acme.id}", f"tenant:{globex.id}"}
        assert by_scope["docs"].embedded == by_scope["docs"].chunks > 100
        assert by_scope["models"].chunks == 0  # no model registered in this store
        tenant = by_scope[f"tenant:{acme.id}"]
        assert tenant.sources == 4  # the finished plan, the incident, a day of audit, the upload
        assert tenant.embedded == tenant.chunks

        again = await remote.reindex(["docs", "tenants"])
        assert again.embedded == 0
        assert sum(s.deleted for s in again.scopes) == 0

        [incident, *_] = await remote.search(
            tenant_id=acme.id, query="why was production rolled back", kinds=("incident",)
        )
        assert incident.source == "incident:check-1"
        assert "latency_p95_ms 91.0" in incident.text
        for kinds in (None, ("incident", "plan", "audit", "upload")):
            seen = await remote.search(tenant_id=globex.id, query="rolled back oncall", kinds=kinds)
            assert seen
            assert {h.tenant_id for h in seen} <= {None, globex.id}  # its own audit summary
            assert all(not h.source.startswith(("incident:", "plan:", "upload:")) for h in seen)
        docs_only = await remote.search(tenant_id=None, query="how do I roll back sentiment")
        assert docs_only[0].source == "docs/runbooks.md"

        status = await remote.status(acme.id)
        assert status.store == "local"
        assert status.platform_chunks["doc"] == by_scope["docs"].chunks
        assert set(status.tenant_chunks) == {"plan", "incident", "audit", "upload"}
        assert status.documents == 1
