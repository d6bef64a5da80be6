"""Plans proposed by the LangGraph agents, against the real Temporal dev server, OPA and the
database: nothing changes state before one human approval of the plan's hash (never the
agent's, never the person who asked for the plan), one approval lets the plan's later steps
run, an amendment needs a new one, and the training executor never promotes to production."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from sentimentops.approvals.errors import ApprovalRefused
from sentimentops.approvals.flows import decide_approval_flow
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.errors import Forbidden
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.inference.models import CanaryShare
from sentimentops.workflows.client import amend_plan
from sentimentops.workflows.schemas import AmendPlan, PlanProgress, PlanStep
from tests.workflows.conftest import TENANT, Platform, approver, cli_env, make_plan, run_cli

PLAN_REASON = (
    "agents may call {} only with a human approval: "
    "agent plans need one before any step that changes state"
)


def agent_proposer(agent: str) -> PolicyPrincipal:
    """An agent as it proposes a plan: its account's actor, the agent role, its name."""
    return PolicyPrincipal(
        subject=f"agent:{agent}-acme", kind="agent", roles=["agent"], tenant=TENANT, agent=agent
    )


def agent_approver(platform: Platform, roles: frozenset[Role]) -> Principal:
    """The planner's own account, as it would authenticate (kind agent), holding `roles`."""
    return Principal(
        tenant_id=platform.tenant.id,
        tenant=platform.tenant.slug,
        subject="planner-acme",
        name="planner-acme",
        kind=PrincipalKind.AGENT,
        roles=roles,
        method=AuthMethod.FIRST_PARTY,
    )


# Each read ends its transaction: an open one would lock SQLite against the workers' writes.


def _canary(session: Session) -> float | None:
    with session.begin():
        share = session.execute(select(CanaryShare.share)).scalar_one_or_none()
    return share


def _requests(session: Session, workflow_id: str) -> list[tuple[str, str, str, str | None, str]]:
    """(id, requester, requester_kind, requested_by, plan_hash) of the plan's requests."""
    query = select(
        ApprovalRequest.id,
        ApprovalRequest.requester,
        ApprovalRequest.requester_kind,
        ApprovalRequest.requested_by,
        ApprovalRequest.plan_hash,
    ).where(ApprovalRequest.workflow_id == workflow_id)
    with session.begin():
        rows = session.execute(query.order_by(ApprovalRequest.created_at)).all()
    return [(id_, by, kind, asked, hash_) for id_, by, kind, asked, hash_ in rows]


def _audited(session: Session, *conditions: ColumnElement[bool]) -> list[tuple[str, str]]:
    """(actor, action) of the audit events matching `conditions`, in order."""
    query = select(AuditEvent.actor, AuditEvent.action).where(*conditions)
    with session.begin():
        rows = session.execute(query.order_by(AuditEvent.seq)).all()
    return [(actor, action) for actor, action in rows]


async def _approve(platform: Platform, approval_id: str, name: str = "bob") -> None:
    await decide_approval_flow(
        platform.flows(), approver(platform.tenant, name), approval_id=approval_id, approve=True
    )


async def _waiting_at(platform: Platform, workflow_id: str, step: int) -> PlanProgress:
    """The plan once step `step` waits for approval (a new request after an amendment)."""
    for _ in range(300):
        progress = await platform.wait_for(workflow_id, {"waiting_approval"})
        if progress.current_step == step and progress.steps[step].status == "waiting_approval":
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"step {step} never waited for approval: {progress}")


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_one_human_approval_before_the_first_state_change_runs_the_whole_plan(
    platform: Platform, session: Session, fresh_db_url: str
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(tool="get_service_metrics", params={"task": "sarcasm"}),
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "staging", "version": version},
        ),
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.1}),
        proposer=agent_proposer("planner"),
        requested_by="human:carol",
    )
    workflow_id = await platform.start(plan)
    waiting = await _waiting_at(platform, workflow_id, 1)

    # The agent read on its own; the first state-changing step waits, and nothing changed.
    assert [s.status for s in waiting.steps] == ["succeeded", "waiting_approval", "pending"]
    assert waiting.steps[1].policy_reasons == [PLAN_REASON.format("promote_model")]
    assert platform.alias("staging") is None
    assert _canary(session) is None
    ran = _audited(
        session,
        AuditEvent.resource == f"workflow/{workflow_id}",
        AuditEvent.action.like("tool.run:%"),
    )
    assert ran == [("agent:planner-acme", "tool.run:get_service_metrics")]
    [(approval_id, *request)] = _requests(session, workflow_id)
    assert request == ["agent:planner-acme", "agent", "human:carol", waiting.plan_hash]
    # Approvers see who asked for the plan.
    env = cli_env(platform, fresh_db_url)
    shown = await run_cli(env, "approvals", "show", approval_id, "--tenant", TENANT)
    assert "proposed by agent:planner-acme (agent), asked for by human:carol" in shown.output

    # Carol asked for the plan: she may not approve it, though she holds the approver role.
    with pytest.raises(ApprovalRefused, match="person who asked the agent"):
        await _approve(platform, approval_id, "carol")
    # The agent's own account cannot decide at all (no approver role)...
    flows = platform.flows()
    with pytest.raises(Forbidden, match="approver"):
        await decide_approval_flow(
            flows,
            agent_approver(platform, frozenset({Role.AGENT})),
            approval_id=approval_id,
            approve=True,
        )
    # ...and one that was given the approver role is refused all the same.
    with pytest.raises(ApprovalRefused, match="an agent can never approve a plan"):
        await decide_approval_flow(
            flows,
            agent_approver(platform, frozenset({Role.APPROVER})),
            approval_id=approval_id,
            approve=True,
        )
    refusals = _audited(
        session, AuditEvent.action == "approval.decide", AuditEvent.outcome == "refused"
    )
    assert sorted(actor for actor, _ in refusals) == [
        "agent:planner-acme",
        "agent:planner-acme",
        "human:carol",
    ]
    assert (await platform.progress(workflow_id)).status == "waiting_approval"
    assert platform.alias("staging") is None
    assert _canary(session) is None

    # Another person approves once; every remaining step runs.
    await _approve(platform, approval_id)
    done = await platform.wait_for(workflow_id, {"completed", "failed", "denied"})
    assert done.status == "completed", done.message
    assert done.steps[1].approved_by == "human:bob"
    assert (done.steps[2].approval_id, done.steps[2].policy_reasons) == (None, [])
    assert platform.alias("staging") == version
    assert _canary(session) == 0.1
    assert [r[0] for r in _requests(session, workflow_id)] == [approval_id]


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_an_amended_agent_plan_needs_a_new_approval(
    platform: Platform, session: Session
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "staging", "version": version},
        ),
        # The timer holds the plan after the approval, long enough to amend it.
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.1}, delay_seconds=5),
        proposer=agent_proposer("planner"),
        requested_by="human:carol",
    )
    workflow_id = await platform.start(plan)
    waiting = await _waiting_at(platform, workflow_id, 0)
    first = waiting.steps[0].approval_id
    assert first is not None
    await _approve(platform, first)
    for _ in range(100):
        progress = await platform.progress(workflow_id)
        if progress.steps[1].status == "waiting_timer":
            break
        await asyncio.sleep(0.05)
    assert progress.steps[1].status == "waiting_timer", progress
    assert platform.alias("staging") == version

    more = PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.3})
    await amend_plan(
        platform.client, workflow_id, AmendPlan(steps=[more], amended_by="agent:planner-acme")
    )
    # The approval was given for the old hash: the next state-changing step waits again.
    amended = await _waiting_at(platform, workflow_id, 1)
    assert amended.plan_hash != waiting.plan_hash
    assert amended.steps[1].policy_reasons == [PLAN_REASON.format("set_canary")]
    assert _canary(session) is None
    second = amended.steps[1].approval_id
    assert second is not None
    assert second != first

    await _approve(platform, second)
    done = await platform.wait_for(workflow_id, {"completed", "failed", "denied"})
    assert done.status == "completed", done.message
    assert done.steps[2].approval_id is None
    assert _canary(session) == 0.3
    assert len(_requests(session, workflow_id)) == 2


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_the_training_executor_promotes_to_staging_never_to_production(
    platform: Platform, session: Session
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "staging", "version": version},
        ),
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": version},
        ),
        proposer=agent_proposer("training-executor"),
        requested_by="human:carol",
    )
    workflow_id = await platform.start(plan)
    waiting = await _waiting_at(platform, workflow_id, 0)
    assert waiting.steps[0].approval_id is not None
    await _approve(platform, waiting.steps[0].approval_id)

    done = await platform.wait_for(workflow_id, {"completed", "failed", "denied"})
    assert done.status == "denied"
    assert [s.status for s in done.steps] == ["succeeded", "denied"]
    assert done.steps[1].policy_reasons == [
        "the training-executor agent may never promote to production"
    ]
    assert platform.alias("staging") == version
    assert platform.alias("production") is None
    assert len(_requests(session, workflow_id)) == 1
