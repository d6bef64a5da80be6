"""Plan execution against the real Temporal dev server, OPA, MLflow (SQLite) and the database:
policy gates every step, approvals are bound to the proposer, the plan hash and the step."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.approvals import service as approvals
from sentimentops.approvals.errors import ApprovalClosed, ApprovalRefused
from sentimentops.approvals.flows import decide_approval_flow, send_decision, signal_decision
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.schemas import ApprovalSignal
from sentimentops.core.audit import service as audit
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.errors import Forbidden
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.vocabulary import Role
from sentimentops.inference.models import CanaryShare
from sentimentops.tools.models import PromotionEvent
from sentimentops.workflows.client import amend_plan, cancel_workflow
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import AmendPlan, PlanStep
from sentimentops.workflows.service import proposer_of
from tests.workflows.conftest import (
    TENANT,
    Platform,
    approver,
    make_plan,
    platform_settings,
    running_platform,
)

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)


def _request(session: Session, approval_id: str) -> ApprovalRequest:
    session.expire_all()
    row = session.get(ApprovalRequest, approval_id)
    assert row is not None
    return row


async def _approve(
    platform: Platform,
    session: Session,
    approval_id: str,
    *,
    name: str = "bob",
    approve: bool = True,
) -> None:
    """Decide through the service, then signal the workflow (what the API and CLI do)."""
    row = approvals.decide(
        session,
        principal=approver(platform.tenant, name),
        approval_id=approval_id,
        approve=approve,
    )
    session.commit()
    await send_decision(platform.client, row)


async def test_a_denied_step_never_runs(platform: Platform, session: Session) -> None:
    viewer = PolicyPrincipal(subject="vic", roles=["viewer"], tenant=TENANT)
    plan = make_plan(
        PlanStep(tool="get_service_metrics", params={"task": "sarcasm"}),
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.5}),
        PlanStep(tool="get_service_metrics", params={"task": "sarcasm"}),
        proposer=viewer,
    )
    workflow_id = await platform.start(plan)
    result = await platform.wait_for(workflow_id, {"denied", "completed", "failed"})

    assert result.status == "denied"
    assert [s.status for s in result.steps] == ["succeeded", "denied", "pending"]
    assert result.steps[0].result is not None
    assert result.steps[0].result["volume"] == 0
    assert "no role of vic may call set_canary" in result.message
    assert session.execute(select(CanaryShare)).first() is None
    actions = [
        (e.action, e.outcome)
        for e in session.execute(
            select(AuditEvent)
            .where(AuditEvent.resource == f"workflow/{workflow_id}")
            .order_by(AuditEvent.seq)
        ).scalars()
    ]
    assert ("policy.check:set_canary", "denied") in actions
    assert ("tool.run:get_service_metrics", "succeeded") in actions
    assert not any(a == "tool.run:set_canary" for a, _ in actions)
    assert actions[-1] == ("plan.finish", "denied")
    assert audit.verify_chain(session).ok


async def test_production_promotion_waits_for_approval_and_rejection_stops_it(
    platform: Platform, session: Session
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(tool="promote_model", params={"task": "sarcasm", "target": "staging"}),
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": version},
        ),
    )
    workflow_id = await platform.start(plan)
    waiting = await platform.wait_for(workflow_id, {"waiting_approval", "completed", "failed"})

    assert waiting.status == "waiting_approval"
    assert waiting.current_step == 1
    assert platform.alias("staging") == version
    assert platform.alias("production") is None  # never without approval
    approval_id = waiting.steps[1].approval_id
    assert approval_id is not None
    request = _request(session, approval_id)
    assert (request.status, request.requester, request.plan_hash) == (
        "pending",
        "alice",
        waiting.plan_hash,
    )
    assert request.reasons == ["promotion to production needs a human approval"]

    await _approve(platform, session, approval_id, approve=False)
    done = await platform.wait_for(workflow_id, {"rejected", "completed"})
    assert done.status == "rejected"
    assert platform.alias("production") is None
    assert _request(session, approval_id).status == "rejected"


async def test_the_proposer_cannot_approve_and_an_approver_can(
    platform: Platform, session: Session
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(tool="promote_model", params={"task": "sarcasm", "target": "production"})
    )
    workflow_id = await platform.start(plan)
    waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
    approval_id = waiting.steps[0].approval_id
    assert approval_id is not None

    # The proposer, even holding the approver role, is refused, and the refusal is audited.
    flows = platform.flows()
    with pytest.raises(ApprovalRefused, match="proposer"):
        await decide_approval_flow(
            flows, approver(platform.tenant, "alice"), approval_id=approval_id, approve=True
        )
    # So is someone without the approver role (the flow's named permission).
    with pytest.raises(Forbidden, match="approver"):
        await decide_approval_flow(
            flows,
            approver(platform.tenant, "eve", frozenset({Role.ML_ENGINEER})),
            approval_id=approval_id,
            approve=True,
        )
    refusals = session.execute(
        select(AuditEvent.actor).where(
            AuditEvent.action == "approval.decide", AuditEvent.outcome == "refused"
        )
    ).scalars()
    assert set(refusals) == {"human:alice", "human:eve"}
    # A forged signal (right id, wrong hash) is ignored by the workflow.
    forged = ApprovalSignal(
        approval_id=approval_id,
        plan_hash="0" * 64,
        step_index=0,
        approved=True,
        decided_by="mallory",
    )
    await signal_decision(platform.client, workflow_id, forged)
    assert (await platform.progress(workflow_id)).status == "waiting_approval"
    assert platform.alias("production") is None

    await _approve(platform, session, approval_id)
    done = await platform.wait_for(workflow_id, {"completed", "failed"})
    assert done.status == "completed", done.message
    assert done.steps[0].approved_by == "human:bob"  # as the audit log names the approver
    assert platform.alias("production") == version
    history = session.execute(select(PromotionEvent)).scalars().all()
    assert [(h.alias, h.version, h.actor) for h in history] == [("production", version, "alice")]


async def test_editing_the_plan_invalidates_its_approval(
    platform: Platform, session: Session
) -> None:
    first = platform.register_version()
    second = platform.register_version()
    plan = make_plan(
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": first},
        )
    )
    workflow_id = await platform.start(plan)
    waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
    old_id = waiting.steps[0].approval_id
    assert old_id is not None

    await amend_plan(
        platform.client,
        workflow_id,
        AmendPlan(
            steps=[
                PlanStep(
                    tool="promote_model",
                    params={"task": "sarcasm", "target": "production", "version": second},
                )
            ],
            amended_by="alice",
        ),
    )
    for _ in range(100):
        amended = await platform.wait_for(workflow_id, {"waiting_approval"})
        if amended.steps[0].approval_id not in (None, old_id):
            break
    assert amended.plan_hash != waiting.plan_hash
    new_id = amended.steps[0].approval_id
    assert new_id is not None
    assert new_id != old_id

    # The approval of the old plan is refused: the plan changed.
    assert _request(session, old_id).status == "superseded"
    with pytest.raises(ApprovalClosed, match="plan changed"):
        approvals.decide(
            session, principal=approver(platform.tenant), approval_id=old_id, approve=True
        )
    # An approver who reviewed the old hash cannot approve the new request with it either.
    with pytest.raises(ApprovalClosed, match="plan hash"):
        approvals.decide(
            session,
            principal=approver(platform.tenant),
            approval_id=new_id,
            approve=True,
            plan_hash=waiting.plan_hash,
        )
    assert platform.alias("production") is None

    await _approve(platform, session, new_id)
    done = await platform.wait_for(workflow_id, {"completed", "failed"})
    assert done.status == "completed", done.message
    assert platform.alias("production") == second


async def test_an_unanswered_approval_expires(platform: Platform, session: Session) -> None:
    platform.register_version()
    plan = make_plan(
        PlanStep(tool="rollback_model", params={"task": "sarcasm", "steps": 2}),
        approval_timeout_seconds=1,
    )
    workflow_id = await platform.start(plan)
    done = await platform.wait_for(workflow_id, {"expired", "completed", "failed"})
    assert done.status == "expired"
    approval_id = done.steps[0].approval_id
    assert approval_id is not None
    assert _request(session, approval_id).status == "expired"


async def test_rollback_returns_to_the_previous_production_version(
    platform: Platform, session: Session
) -> None:
    v1, v2 = platform.register_version(), platform.register_version()
    for version in (v1, v2):
        steps = PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": version},
        )
        workflow_id = await platform.start(make_plan(steps))
        waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
        assert waiting.steps[0].approval_id is not None
        await _approve(platform, session, waiting.steps[0].approval_id)
        await platform.wait_for(workflow_id, {"completed"})
    assert platform.alias("production") == v2

    # One version back needs no approval; it lands on v1.
    workflow_id = await platform.start(
        make_plan(PlanStep(tool="rollback_model", params={"task": "sarcasm"}))
    )
    done = await platform.wait_for(workflow_id, {"completed", "failed"})
    assert done.status == "completed", done.message
    assert done.steps[0].result == {
        "model_name": "sarcasm",
        "alias": "production",
        "from_version": v2,
        "to_version": v1,
    }
    assert platform.alias("production") == v1
    # There is nothing before v1: a further rollback fails cleanly.
    workflow_id = await platform.start(
        make_plan(PlanStep(tool="rollback_model", params={"task": "sarcasm"}))
    )
    failed = await platform.wait_for(workflow_id, {"completed", "failed"})
    assert failed.status == "failed"
    assert "cannot roll back" in (failed.steps[0].error or "")
    assert platform.alias("production") == v1


async def test_canary_share_is_stored_per_tenant(platform: Platform, session: Session) -> None:
    plan = make_plan(
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.25}),
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.5}),
    )
    done = await platform.wait_for(await platform.start(plan), {"completed", "failed"})
    assert done.status == "completed", done.message
    assert done.steps[1].result is not None
    assert done.steps[1].result["previous_share"] == 0.25
    [row] = session.execute(select(CanaryShare)).scalars()
    assert (row.tenant_id, row.task, row.share) == (platform.tenant.id, "sarcasm", 0.5)


async def test_pytorch_training_goes_to_the_gpu_queue_when_one_is_configured(
    temporal_client: Client, opa_url: str, app_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path, gpu_task_queue=f"gpu-{uuid.uuid4().hex[:8]}")
    async with running_platform(
        temporal_client, opa_url, app_sessions, tmp_path, settings=settings
    ) as platform:
        # No worker serves the GPU queue here: the step waits there until cancelled.
        plan = make_plan(
            PlanStep(tool="train_model", params={"task": "sarcasm", "family": "minilm"})
        )
        workflow_id = await platform.start(plan)
        await platform.wait_for(workflow_id, {"running"})
        handle = platform.client.get_workflow_handle(workflow_id)
        queues: list[str] = []
        for _ in range(100):
            queues = [
                e.activity_task_scheduled_event_attributes.task_queue.name
                async for e in handle.fetch_history_events()
                if e.HasField("activity_task_scheduled_event_attributes")
                and e.activity_task_scheduled_event_attributes.activity_type.name == "train_model"
            ]
            if queues:
                break
            await asyncio.sleep(0.1)
        assert queues == [settings.gpu_task_queue]

        await cancel_workflow(platform.client, workflow_id)
        done = await platform.wait_for(workflow_id, {"cancelled", "failed"})
        assert done.status == "cancelled", done.message


async def test_the_tenant_id_is_carried_inward_and_never_looked_up(
    platform: Platform, session: Session
) -> None:
    """A plan proposed through the API carries its tenant's id in the proposer: the plan
    registry, the approval request and the tools' tenant-owned rows use it, and no activity
    looks the slug up again (only histories recorded before it was carried do)."""
    caller = approver(platform.tenant, "alice", frozenset({Role.ML_ENGINEER}))
    proposer = proposer_of(caller)
    assert (proposer.tenant, proposer.tenant_id) == (TENANT, platform.tenant.id)
    slug_lookups: list[str] = []

    def watch(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "tenants.slug = " in statement:
            slug_lookups.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", watch)
    try:
        version = platform.register_version()
        plan = make_plan(
            PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.25}),
            PlanStep(
                tool="promote_model",
                params={"task": "sarcasm", "target": "production", "version": version},
            ),
            proposer=proposer,
        )
        workflow_id = await platform.start(plan)
        waiting = await platform.wait_for(workflow_id, {"waiting_approval", "failed"})
        assert waiting.status == "waiting_approval", waiting.message
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert slug_lookups == []
    approval_id = waiting.steps[1].approval_id
    assert approval_id is not None
    assert _request(session, approval_id).tenant_id == platform.tenant.id
    [share] = session.execute(select(CanaryShare)).scalars()
    assert share.tenant_id == platform.tenant.id
    registry_row = session.get(PlanExecution, workflow_id)
    assert registry_row is not None
    assert registry_row.tenant_id == platform.tenant.id
    await cancel_workflow(platform.client, workflow_id)


async def test_two_racing_decisions_decide_once(
    platform: Platform, app_sessions: sessionmaker[Session]
) -> None:
    """Both deciders read the request while it is pending (a double click, two API replicas);
    only the first UPDATE that still finds it pending wins, the other is told it was decided."""
    with app_sessions.begin() as session:
        request = approvals.create_request(
            session,
            tenant=TENANT,
            workflow_id="race",
            plan_hash="h" * 64,
            step_index=0,
            tool="promote_model",
            params={},
            requester="alice",
            requester_kind="human",
            rationale="race",
            reasons=["promotion to production needs a human approval"],
            ttl_seconds=600,
        )
        approval_id = request.id
    with app_sessions() as first, app_sessions() as second:
        if first.get_bind().dialect.name == "sqlite":
            pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE: the race cannot happen")
        stale = first.get(ApprovalRequest, approval_id)  # read while pending, kept
        assert stale is not None
        assert stale.status == "pending"
        approvals.decide(
            second,
            principal=approver(platform.tenant, "bob"),
            approval_id=approval_id,
            approve=True,
        )
        second.commit()
        with pytest.raises(ApprovalClosed, match="decided meanwhile"):
            approvals.decide(
                first,
                principal=approver(platform.tenant, "carol"),
                approval_id=approval_id,
                approve=False,
            )
        first.rollback()
    with app_sessions() as check:
        row = check.get(ApprovalRequest, approval_id)
        assert row is not None
        assert (row.status, row.decided_by) == ("approved", approver(platform.tenant, "bob").actor)
