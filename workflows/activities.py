"""Activity implementations. They hold collaborators injected by the worker, so tests run them
against real services configured differently, without patching imports."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.policy import PolicyEngine
from sentimentops.workflows.schemas import PolicyCheckResult, ToolCallRequest


class PolicyActivities:
    def __init__(self, *, policy: PolicyEngine, sessions: sessionmaker[Session]) -> None:
        self._policy = policy
        self._sessions = sessions

    @activity.defn(name="check_policy")
    async def check_policy(self, request: ToolCallRequest) -> PolicyCheckResult:
        """Ask OPA whether the tool call may run, and record its answer in the audit log."""
        info = activity.info()
        decision = await self._policy.decide_tool_call(
            principal=request.principal,
            tenant=request.tenant,
            tool=request.tool,
            params=request.params,
        )
        with transaction(self._sessions) as session:
            event = audit.record(
                session,
                actor=request.principal.subject,
                tenant=request.tenant,
                action=f"policy.check:{request.tool}",
                resource=f"workflow/{info.workflow_id}",
                outcome=decision.outcome,
                # The run id is the trace that ties audit rows to one workflow execution.
                trace_id=info.workflow_run_id.replace("-", "") if info.workflow_run_id else None,
                details={"reasons": decision.reasons, "params": request.params},
            )
            seq = event.seq
        return PolicyCheckResult(decision=decision, audit_seq=seq)
