"""The spine end to end: a Temporal workflow (real dev server) runs an activity that asks the
real OPA server and records the answer in the audit log (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.core.audit import service as audit
from sentimentops.core.policy import OpaPolicyEngine, Principal
from sentimentops.workflows.policy_check import PolicyCheckWorkflow
from sentimentops.workflows.schemas import PolicyCheckResult, ToolCallRequest
from sentimentops.workflows.worker import build_worker


async def _run(
    client: Client, opa_url: str, sessions: sessionmaker[Session], request: ToolCallRequest
) -> tuple[str, PolicyCheckResult]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    workflow_id = f"policy-check-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        client, task_queue=queue, policy=OpaPolicyEngine(opa_url), sessions=sessions
    )
    async with worker:
        result = await client.execute_workflow(
            PolicyCheckWorkflow.run, request, id=workflow_id, task_queue=queue
        )
    return workflow_id, result


async def test_allowed_call_is_audited(
    temporal_client: Client, opa_url: str, sessions: sessionmaker[Session], session: Session
) -> None:
    request = ToolCallRequest(
        principal=Principal(subject="alice", roles=["ml_engineer"], tenant="acme"),
        tenant="acme",
        tool="train_model",
        params={"family": "tfidf_lr"},
    )
    workflow_id, result = await _run(temporal_client, opa_url, sessions, request)
    assert result.decision.outcome == "allowed"
    [event] = audit.recent(session, limit=1)
    assert event.seq == result.audit_seq
    assert (event.actor, event.tenant, event.action, event.outcome) == (
        "alice",
        "acme",
        "policy.check:train_model",
        "allowed",
    )
    assert event.resource == f"workflow/{workflow_id}"
    assert event.details["params"] == {"family": "tfidf_lr"}
    assert audit.verify_chain(session).ok
    description = await temporal_client.get_workflow_handle(workflow_id).describe()
    assert description.status is not None
    assert description.status.name == "COMPLETED"


async def test_denied_call_is_audited_as_denied(
    temporal_client: Client, opa_url: str, sessions: sessionmaker[Session], session: Session
) -> None:
    request = ToolCallRequest(
        principal=Principal(subject="mallory", kind="agent", roles=["viewer"], tenant="acme"),
        tenant="acme",
        tool="rollback_model",
    )
    _, result = await _run(temporal_client, opa_url, sessions, request)
    assert result.decision.outcome == "denied"
    [event] = audit.recent(session, limit=1)
    assert (event.actor, event.outcome) == ("mallory", "denied")
    assert event.details["reasons"] == ["no role of mallory may call rollback_model"]


async def test_agent_over_its_hourly_budget_is_denied(
    temporal_client: Client, opa_url: str, sessions: sessionmaker[Session], session: Session
) -> None:
    planner = Principal(subject="planner", kind="agent", roles=["agent"], tenant="acme")
    request = ToolCallRequest(principal=planner, tenant="acme", tool="score_texts")
    _, allowed = await _run(temporal_client, opa_url, sessions, request)
    assert allowed.decision.outcome == "allowed"
    # 119 more calls went ahead this hour (denials would not count)...
    for _ in range(119):
        audit.record(
            session,
            actor="planner",
            tenant="acme",
            action="policy.check:score_texts",
            resource="workflow/earlier",
            outcome="allowed",
        )
    session.flush()
    # ...so the 121st is refused.
    _, refused = await _run(temporal_client, opa_url, sessions, request)
    assert refused.decision.outcome == "denied"
    assert refused.decision.reasons == [
        "agent planner reached its limit of 120 tool calls per hour"
    ]
