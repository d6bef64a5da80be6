"""Activity implementations. They hold collaborators injected by the worker, so tests run them
against real services configured differently, without patching imports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from sentimentops.approvals import service as approvals
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.notifier import ApprovalNotice, IncidentNotice, Notifier, NullNotifier
from sentimentops.approvals.schemas import subject_of
from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import DomainError, ServiceUnavailable
from sentimentops.core.knowledge import KnowledgeSearch
from sentimentops.core.logging import get_logger
from sentimentops.core.model_registry import MlflowRegistry, ModelRegistry
from sentimentops.core.policy import PolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.core.vocabulary import StepStatus, Task
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS, AnySpec
from sentimentops.tools.models import ToolRun
from sentimentops.workflows import service as plans
from sentimentops.workflows.schemas import (
    ApprovalTicket,
    CloseApproval,
    CreateApproval,
    PlanFinished,
    PlanProgress,
    PlanStarted,
    PolicyCheckResult,
    ToolCall,
    ToolCallRequest,
    WorkflowEvent,
)

log = get_logger(__name__)

# The window of an agent's tool-call budget (policies/rego: agent_max_actions_per_hour).
AGENT_BUDGET_WINDOW = timedelta(hours=1)


class PolicyActivities:
    def __init__(self, *, policy: PolicyEngine, sessions: sessionmaker[Session]) -> None:
        self._policy = policy
        self._sessions = sessions

    def _context(self, request: ToolCallRequest) -> dict[str, object]:
        """The workflow's facts (request.context) and those only the database knows: an
        agent's calls in the last hour (those that went ahead or asked for approval; refusals
        do not extend a block). The database's count wins over any the request carries."""
        if request.principal.kind != "agent":
            return dict(request.context)
        with self._sessions() as session:
            count = audit.count_since(
                session,
                actor=request.principal.subject,
                tenant=request.tenant,
                action_prefix="policy.check:",
                outcomes=("allowed", "needs_approval"),
                since=datetime.now(UTC) - AGENT_BUDGET_WINDOW,
            )
        return {**request.context, "agent_actions_last_hour": count}

    @activity.defn(name="check_policy")
    async def check_policy(self, request: ToolCallRequest) -> PolicyCheckResult:
        """Ask OPA whether the tool call may run, and record its answer in the audit log."""
        info = activity.info()
        decision = await self._policy.decide_tool_call(
            principal=request.principal,
            tenant=request.tenant,
            tool=request.tool,
            params=request.params,
            context=self._context(request),
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


class ToolActivities:
    """One activity per tool (named like the tool), with idempotency, heartbeats and audit."""

    def __init__(
        self,
        *,
        settings: Settings,
        policy: PolicyEngine,
        sessions: sessionmaker[Session],
        registry: ModelRegistry | None = None,
        heartbeat_seconds: float = 5.0,
        knowledge: Callable[[], KnowledgeSearch] | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._sessions = sessions
        self._knowledge = knowledge
        # MLflow is imported on the first tool call that needs the registry, not at start-up.
        self._registry = registry or MlflowRegistry(settings.resolved_mlflow_tracking_uri)
        self._heartbeat_seconds = heartbeat_seconds

    def _get_registry(self) -> ModelRegistry:
        return self._registry

    def activities(self, queue: str) -> list[Callable[..., Any]]:
        """The activities of the tools that run on `queue` ("default" or "training")."""
        return [self._activity(spec) for spec in TOOLS.values() if spec.queue == queue]

    def _activity(self, spec: AnySpec) -> Callable[..., Any]:
        async def run(call: ToolCall) -> dict[str, Any]:
            return await self.run_tool(spec, call)

        run.__doc__ = spec.description
        return activity.defn(name=spec.name)(run)

    def _stored(self, key: str) -> ToolRun | None:
        with self._sessions() as session:
            return session.get(ToolRun, key)

    def _finish(self, call: ToolCall, key: str, output: dict[str, Any]) -> None:
        with transaction(self._sessions) as session:
            session.add(
                ToolRun(
                    key=key,
                    tool=call.tool,
                    tenant=call.tenant,
                    actor=call.actor,
                    workflow_id=call.workflow_id,
                    output=output,
                    created_at=datetime.now(UTC),
                )
            )
            self._audit(session, call, "succeeded", {"output": output})

    def _audit(
        self, session: Session, call: ToolCall, outcome: str, details: dict[str, Any]
    ) -> None:
        audit.record(
            session,
            actor=call.actor,
            tenant=call.tenant,
            action=f"tool.run:{call.tool}",
            resource=f"workflow/{call.workflow_id}" if call.workflow_id else f"tool/{call.tool}",
            outcome=outcome,
            details={"params": call.params, "idempotency_key": call.idempotency_key, **details},
        )

    def _audit_failure(self, call: ToolCall, error: str) -> None:
        with transaction(self._sessions) as session:
            self._audit(session, call, "failed", {"error": error[:2000]})

    async def run_tool(self, spec: AnySpec, call: ToolCall) -> dict[str, Any]:
        key = f"{call.tenant}:{call.idempotency_key}"
        stored = await asyncio.to_thread(self._stored, key)
        if stored is not None:
            if stored.tool != spec.name:
                raise ApplicationError(
                    f"idempotency key {call.idempotency_key!r} was used for {stored.tool}",
                    type="Conflict",
                    non_retryable=True,
                )
            output: dict[str, Any] = dict(stored.output)
            return output
        progress = {"message": "started"}

        def on_step(message: str) -> None:
            progress["message"] = message

        ctx = ToolContext(
            settings=self._settings,
            sessions=self._sessions,
            policy=self._policy,
            registry=self._get_registry,
            tenant=call.tenant,
            known_tenant_id=call.tenant_id,
            actor=call.actor,
            workflow_id=call.workflow_id,
            heartbeat=on_step,
            knowledge=self._knowledge,
        )
        params = {**call.params, "idempotency_key": call.idempotency_key}
        work = asyncio.ensure_future(spec.call(ctx, params))
        try:
            # Heartbeats come from the event loop while the tool works (often in a thread), so
            # a worker that dies is noticed within the heartbeat timeout, not the whole run's.
            while True:
                done, _ = await asyncio.wait({work}, timeout=self._heartbeat_seconds)
                if done:
                    break
                activity.heartbeat(progress["message"])
            result = work.result()
        except ValidationError as exc:
            await asyncio.to_thread(self._audit_failure, call, str(exc))
            raise ApplicationError(
                f"invalid parameters for {spec.name}: {exc}",
                type="InvalidInput",
                non_retryable=True,
            ) from exc
        except DomainError as exc:
            await asyncio.to_thread(self._audit_failure, call, str(exc))
            raise ApplicationError(
                str(exc),
                type=type(exc).__name__,
                non_retryable=not isinstance(exc, ServiceUnavailable),
            ) from exc
        except asyncio.CancelledError:
            work.cancel()
            raise
        except Exception as exc:
            await asyncio.to_thread(self._audit_failure, call, f"{type(exc).__name__}: {exc}")
            raise
        output = result.model_dump(mode="json")
        await asyncio.to_thread(self._finish, call, key, output)
        return output


class PlanActivities:
    """Approval requests and audit events on behalf of the plan workflow."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        notifier: Notifier | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._notifier: Notifier = notifier or NullNotifier()

    @activity.defn(name="create_approval")
    async def create_approval(self, request: CreateApproval) -> ApprovalTicket:
        """Store a pending approval request (once per workflow, hash and step) and notify."""

        def work() -> tuple[ApprovalTicket, ApprovalNotice, bool]:
            with transaction(self._sessions) as session:
                existing = session.execute(
                    select(ApprovalRequest).where(
                        ApprovalRequest.workflow_id == request.workflow_id,
                        ApprovalRequest.plan_hash == request.plan_hash,
                        ApprovalRequest.step_index == request.step_index,
                    )
                ).scalar_one_or_none()
                # A retried activity finds the request its first attempt made.
                row = existing or approvals.create_request(
                    session,
                    **subject_of(request),
                    tenant=request.tenant,
                    tenant_id=request.tenant_id,
                    requester_kind=request.requester_kind,
                    ttl_seconds=request.ttl_seconds,
                )
                ticket = ApprovalTicket(approval_id=row.id, expires_at=row.expires_at)
                notice = ApprovalNotice(
                    **subject_of(request),
                    approval_id=row.id,
                    tenant=request.tenant,
                    expires_at=row.expires_at,
                    workflow_url=workflow_ui_url(self._settings, request.workflow_id),
                )
            return ticket, notice, existing is None

        ticket, notice, created = await asyncio.to_thread(work)
        if created:
            try:
                await self._notifier.notify(notice)
            except Exception as exc:  # noqa: BLE001 - a notifier failure must not fail the plan
                log.warning(
                    "approval.notify_failed", approval_id=ticket.approval_id, error=str(exc)
                )
                await self.record_event(
                    WorkflowEvent(
                        actor="system:notifier",
                        tenant=request.tenant,
                        action="approval.notify",
                        outcome="failed",
                        details={"approval_id": ticket.approval_id, "error": str(exc)[:500]},
                    )
                )
        return ticket

    @activity.defn(name="close_approval")
    async def close_approval(self, request: CloseApproval) -> None:
        """Mark a pending request expired or superseded."""

        def work() -> None:
            with transaction(self._sessions) as session:
                approvals.close_request(
                    session,
                    approval_id=request.approval_id,
                    status=request.status,
                    actor=request.actor,
                )

        await asyncio.to_thread(work)

    @activity.defn(name="plan_started")
    async def plan_started(self, event: PlanStarted) -> None:
        """The plan registry's one writer, at a plan's start: its row is written (or reset, for
        a workflow id used again) and the start audited, in one transaction."""
        info = activity.info()

        def work() -> None:
            with transaction(self._sessions) as session:
                plans.record_started(
                    session,
                    workflow_id=str(info.workflow_id),
                    tenant=event.tenant,
                    proposer=event.proposer,
                    plan_hash=event.plan_hash,
                    rationale=event.rationale,
                    tools=event.tools,
                    new_execution=True,
                    tenant_id=event.tenant_id,
                )
                self._audit_plan(
                    session,
                    info,
                    event.tenant,
                    event.proposer,
                    "plan.start",
                    "running",
                    {
                        "plan_hash": event.plan_hash,
                        "rationale": event.rationale,
                        "tools": event.tools,
                    },
                )

        await asyncio.to_thread(work)

    @activity.defn(name="plan_finished")
    async def plan_finished(self, event: PlanFinished) -> None:
        """The plan registry's one writer, at a plan's end: its final status, and the audit."""
        info = activity.info()

        def work() -> None:
            with transaction(self._sessions) as session:
                plans.record_finished(
                    session,
                    workflow_id=str(info.workflow_id),
                    status=event.status,
                    message=event.message,
                )
                self._audit_plan(
                    session,
                    info,
                    event.tenant,
                    event.proposer,
                    "plan.finish",
                    event.status,
                    {"plan_hash": event.plan_hash, "message": event.message},
                )

        await asyncio.to_thread(work)

    @staticmethod
    def _audit_plan(
        session: Session,
        info: activity.Info,
        tenant: str,
        actor: str,
        action: str,
        outcome: str,
        details: dict[str, Any],
    ) -> None:
        audit.record(
            session,
            actor=actor,
            tenant=tenant,
            action=action,
            resource=f"workflow/{info.workflow_id}",
            outcome=outcome,
            trace_id=info.workflow_run_id.replace("-", "") if info.workflow_run_id else None,
            details=details,
        )

    @activity.defn(name="record_event")
    async def record_event(self, event: WorkflowEvent) -> None:
        """Append a workflow decision to the audit log. Plans started before the typed
        plan_started/plan_finished activities (workflows/plan.py, TYPED_PLAN_REGISTRY) still
        report their start and finish here; for them the registry follows these events."""
        info = activity.info() if activity.in_activity() else None
        plan_id = info.workflow_id if info and info.workflow_type == "PlanExecution" else None

        def work() -> None:
            with transaction(self._sessions) as session:
                if plan_id is not None:
                    plans.record_event(
                        session,
                        workflow_id=plan_id,
                        tenant=event.tenant,
                        actor=event.actor,
                        action=event.action,
                        outcome=event.outcome,
                        details=event.details,
                    )
                audit.record(
                    session,
                    actor=event.actor,
                    tenant=event.tenant,
                    action=event.action,
                    resource=f"workflow/{info.workflow_id}" if info else "workflow",
                    outcome=event.outcome,
                    trace_id=(
                        info.workflow_run_id.replace("-", "")
                        if info and info.workflow_run_id
                        else None
                    ),
                    details=event.details,
                )

        await asyncio.to_thread(work)


class SentryIncident(BaseModel):
    """A sentry check that breached a gate or rolled back (workflows/sentry.py)."""

    tenant: str
    task: Task
    check_id: str
    checked_at: datetime
    window_seconds: float
    progress: PlanProgress
    tenant_id: str | None = None  # None only in histories recorded before it was carried


class IncidentWriter(Protocol):
    """Writes an incident where people read it and says what to tell them: the Deployment Sentry
    agent's thread (agents/sentry_agent.py write_incident), given to the worker by the app layer,
    since workflows sit below agents. `key` names the incident: the same key, the same thread."""

    async def __call__(
        self,
        incident: SentryIncident,
        *,
        key: str,
        settings: Settings,
        sessions: sessionmaker[Session],
        policy: PolicyEngine,
    ) -> IncidentNotice: ...


def plain_notice(incident: SentryIncident) -> IncidentNotice:
    """The notice without an agent's thread: the check's own words."""
    progress = incident.progress
    rolled_back = any(
        s.tool == "rollback_model" and s.status == StepStatus.SUCCEEDED for s in progress.steps
    )
    done = "production was rolled back one version" if rolled_back else "nothing was changed"
    return IncidentNotice(
        tenant=incident.tenant,
        task=incident.task,
        check_id=incident.check_id,
        status=progress.status,
        rolled_back=rolled_back,
        summary=f"{incident.task}@production: {progress.message[:3000]}; {done}.",
    )


class IncidentActivities:
    """The deployment sentry's incidents: written (by the agent, when the worker has it) and
    notified."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        policy: PolicyEngine,
        notifier: Notifier | None = None,
        writer: IncidentWriter | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier: Notifier = notifier or NullNotifier()
        self._writer = writer

    @activity.defn(name="sentry_incident")
    async def sentry_incident(self, incident: SentryIncident) -> str:
        """Write the incident (the agent's thread: summary and a proposed next step as a draft
        a person submits) and notify; returns the thread id ("" without one). A writer that
        fails still leaves the notice: people hear of the incident either way."""
        info = activity.info()
        notice = plain_notice(incident)
        if self._writer is not None:
            try:
                notice = await self._writer(
                    incident,
                    key=f"{info.workflow_run_id}:{incident.check_id}",
                    settings=self._settings,
                    sessions=self._sessions,
                    policy=self._policy,
                )
            except Exception as exc:
                log.exception("incident.write_failed", check_id=incident.check_id)
                notice.summary += f" (the incident thread could not be written: {exc})"[:500]
        try:
            await self._notifier.notify(notice)
        except Exception as exc:  # noqa: BLE001 - the thread holds the incident either way
            error = str(exc)[:500]
            log.warning("incident.notify_failed", check_id=incident.check_id, error=error)

            def record() -> None:
                with transaction(self._sessions) as session:
                    audit.record(
                        session,
                        actor="system:notifier",
                        tenant=incident.tenant,
                        action="incident.notify",
                        resource=f"workflow/{incident.check_id}",
                        outcome="failed",
                        details={"thread_id": notice.thread_id, "error": error},
                    )

            await asyncio.to_thread(record)
        return notice.thread_id or ""
