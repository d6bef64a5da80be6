"""The model lifecycle template end to end (real training on a small sample), and the tools'
idempotency: the same key never trains twice."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from sentimentops.core.db import transaction
from sentimentops.core.metrics import Metrics
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.identity import service as identity
from sentimentops.inference.models import CanaryShare
from sentimentops.inference.slots import ModelSlots
from sentimentops.inference.watcher import ModelWatcher
from sentimentops.tools.catalogue import TOOLS
from sentimentops.tools.models import PromotionEvent, ToolRun
from sentimentops.workflows.activities import ToolActivities
from sentimentops.workflows.schemas import ToolCall
from sentimentops.workflows.templates import lifecycle_plan
from tests.workflows.conftest import TENANT, Platform, engineer, platform_settings
from tests.workflows.test_plans import _approve

TRAIN_SAMPLES = 3000  # enough for the sarcasm floors; trains in a few seconds


async def test_lifecycle_stops_at_production_approval_then_promotes(
    platform: Platform, session: Session
) -> None:
    plan = lifecycle_plan(
        tenant=TENANT,
        proposer=engineer(),
        task="sarcasm",
        family="tfidf_lr",
        max_train_samples=TRAIN_SAMPLES,
        soak_seconds=1,
        canary_share=0.2,
    )
    workflow_id = await platform.start(plan)
    waiting = await platform.wait_for(
        workflow_id,
        {"waiting_approval", "completed", "failed", "gate_failed", "denied"},
        within=240,
    )
    assert waiting.status == "waiting_approval", waiting.message
    assert waiting.current_step == 7
    statuses = [s.status for s in waiting.steps]
    assert statuses == ["succeeded"] * 7 + ["waiting_approval", "pending"]
    train = waiting.steps[1].result
    assert train is not None
    version = train["version"]
    assert platform.alias("candidate") == version
    assert platform.alias("staging") == version
    assert platform.alias("production") is None
    [canary] = session.execute(select(CanaryShare)).scalars()
    assert canary.share == 0.2

    approval_id = waiting.steps[7].approval_id
    assert approval_id is not None
    await _approve(platform, session, approval_id)
    done = await platform.wait_for(workflow_id, {"completed", "failed"}, within=60)
    assert done.status == "completed", done.message
    assert platform.alias("production") == version
    session.expire_all()
    assert session.execute(select(CanaryShare.share)).scalar() == 0.0
    moves = session.execute(select(PromotionEvent.alias, PromotionEvent.version)).all()
    assert [tuple(m) for m in moves] == [("staging", version), ("production", version)]
    # Exactly one version was trained and registered.
    assert len(platform.mlflow.search_model_versions("name='sarcasm'")) == 1


async def test_train_model_with_the_same_key_trains_once(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path, session: Session
) -> None:
    settings = platform_settings(tmp_path)
    tools = ToolActivities(
        settings=settings, policy=OpaPolicyEngine(opa_url), sessions=app_sessions
    )
    with transaction(app_sessions) as s:
        identity.create_tenant(s, actor="test", slug=TENANT)
    call = ToolCall(
        tool="train_model",
        tenant=TENANT,
        actor="alice",
        idempotency_key="plan-x:1",
        params={"task": "sarcasm", "max_train_samples": 300},
    )
    env = ActivityEnvironment()
    first = await env.run(tools.run_tool, TOOLS["train_model"], call)
    second = await env.run(tools.run_tool, TOOLS["train_model"], call)
    assert first == second
    uri = settings.resolved_mlflow_tracking_uri
    versions = MlflowClient(uri, registry_uri=uri).search_model_versions("name='sarcasm'")
    assert [str(v.version) for v in versions] == [first["version"]]
    assert versions[0].tags["sentimentops.idempotency_key"] == "plan-x:1"
    assert session.execute(select(ToolRun.key)).scalars().all() == [f"{TENANT}:plan-x:1"]

    # A worker that died after registering, before the result was recorded (and before the
    # alias moved): the retry finds the version by its key instead of training a second one.
    session.execute(delete(ToolRun))
    session.commit()
    mlflow = MlflowClient(uri, registry_uri=uri)
    mlflow.delete_registered_model_alias("sarcasm", "candidate")
    retried = await env.run(tools.run_tool, TOOLS["train_model"], call)
    assert (retried["version"], retried["run_id"]) == (first["version"], first["run_id"])
    assert retried["metrics"]["test_accuracy"] == first["metrics"]["test_accuracy"]
    assert len(mlflow.search_model_versions("name='sarcasm'")) == 1
    assert (
        str(mlflow.get_model_version_by_alias("sarcasm", "candidate").version) == first["version"]
    )


async def test_the_scoring_watcher_applies_canary_shares_from_the_database(
    app_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(app_sessions) as s:
        tenant = identity.create_tenant(s, actor="test", slug=TENANT)
        s.add(
            CanaryShare(
                tenant_id=tenant.id,
                task="sarcasm",
                share=0.3,
                updated_by="alice",
                updated_at=tenant.created_at,
            )
        )
    slots = ModelSlots()
    watcher = ModelWatcher(
        registry=MlflowRegistry(f"sqlite:///{tmp_path / 'none.db'}", read_only=True),
        slots=slots,
        tasks=["sarcasm"],
        cache_dir=tmp_path / "cache",
        sessions=app_sessions,
        metrics=Metrics(),
    )
    assert await watcher.sync_once() == [f"canary sarcasm@{tenant.id}=0.3"]
    assert slots.canary_share(tenant.id, "sarcasm") == 0.3
    assert slots.canary_share(tenant.id, "sentiment") == 0.0
    assert slots.canary_share("other-tenant", "sarcasm") == 0.0
    assert await watcher.sync_once() == []
