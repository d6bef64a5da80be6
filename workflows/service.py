"""The plan registry, and plans proposed by API callers.

A row per plan execution, with one writer: the plan workflow's first activity (plan_started)
writes it, so plans started by the API, the CLI, the sentry or an agent are all listed (a
finished row is reset when a workflow id is used again), and its last one (plan_finished)
records the final status. The start flow waits briefly for the row so that a caller can read
its plan at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.service import PENDING
from sentimentops.core.errors import InvalidInput
from sentimentops.core.logging import get_logger
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned
from sentimentops.tools.catalogue import TOOLS
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import SENTRY_SUBJECT, Plan, PlanStep, PlanSummary

log = get_logger(__name__)

RUNNING = "running"


def proposer_of(principal: Principal) -> PolicyPrincipal:
    """How policy and approvals see an API caller: named as the audit log names it, so the
    "the proposer never approves" rule compares like with like. Policy knows two kinds: an
    agent (by kind or by role: the agent rules must never be sidestepped by an account's kind)
    and everyone else."""
    agent = principal.kind is PrincipalKind.AGENT or Role.AGENT in principal.roles
    return PolicyPrincipal(
        subject=principal.actor,
        kind="agent" if agent else "human",
        roles=sorted(role.value for role in principal.roles),
        tenant=principal.tenant,
        tenant_id=principal.tenant_id,
    )


def caller_plan(
    principal: Principal,
    *,
    rationale: str,
    steps: list[PlanStep],
    approval_timeout_seconds: float,
) -> Plan:
    """A plan proposed by an API caller: always for the caller's own tenant, under its name."""
    return Plan(
        tenant=principal.tenant,
        proposer=proposer_of(principal),
        rationale=rationale,
        steps=steps,
        approval_timeout_seconds=approval_timeout_seconds,
    )


def check_tools(steps: list[PlanStep]) -> None:
    """Unknown tools are refused at the door rather than failing the plan halfway."""
    for step in steps:
        if step.tool not in TOOLS:
            known = ", ".join(sorted(TOOLS))
            raise InvalidInput(f"no tool named {step.tool!r} (tools: {known})")
        check_tools(step.on_gate_failure)


def record_started(
    session: Session,
    *,
    workflow_id: str,
    tenant: str,
    proposer: str,
    plan_hash: str,
    rationale: str,
    tools: list[str],
    new_execution: bool = False,
    tenant_id: str | None = None,
) -> None:
    """Add the plan to its tenant's registry unless it is there already. `new_execution` (from
    the workflow's own start event) replaces a finished row: a workflow id used again, as the
    sentry's check ids are after the sentry restarts, is a new plan."""
    existing = session.get(PlanExecution, workflow_id)
    if existing is not None:
        if new_execution and existing.status != RUNNING:
            existing.proposer, existing.plan_hash = proposer[:255], plan_hash
            existing.rationale, existing.tools = rationale, tools
            existing.status, existing.message = RUNNING, ""
            existing.created_at, existing.finished_at = datetime.now(UTC), None
        return
    # The id the proposer carries; the slug only in histories recorded before it was carried.
    row = (
        session.get(Tenant, tenant_id)
        if tenant_id is not None
        else identity.tenant_by_slug(session, tenant)
    )
    if row is None:  # e.g. the platform's own smoke check: not a tenant's plan
        log.info("plan_registry.unknown_tenant", workflow_id=workflow_id, tenant=tenant)
        return
    try:
        # A savepoint: when two attempts of the first activity race on Postgres, the loser's
        # insert fails alone and the row the winner wrote stands.
        with session.begin_nested():
            session.add(
                PlanExecution(
                    id=workflow_id,
                    tenant_id=row.id,
                    proposer=proposer[:255],
                    plan_hash=plan_hash,
                    rationale=rationale,
                    tools=tools,
                    status=RUNNING,
                    message="",
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        log.info("plan_registry.already_recorded", workflow_id=workflow_id)


def is_recorded(session: Session, *, workflow_id: str) -> bool:
    return session.get(PlanExecution, workflow_id) is not None


def record_finished(session: Session, *, workflow_id: str, status: str, message: str) -> None:
    row = session.get(PlanExecution, workflow_id)
    if row is None:
        return
    row.status = status
    row.message = message
    row.finished_at = datetime.now(UTC)


def record_event(
    session: Session,
    *,
    workflow_id: str,
    tenant: str,
    actor: str,
    action: str,
    outcome: str,
    details: dict[str, Any],
) -> None:
    """Keep the registry in step with the plan workflow's start and finish events."""
    if action == "plan.start":
        record_started(
            session,
            workflow_id=workflow_id,
            tenant=tenant,
            proposer=actor,
            plan_hash=str(details.get("plan_hash", "")),
            rationale=str(details.get("rationale", "")),
            tools=[str(t) for t in details.get("tools", [])],
            new_execution=True,
        )
    elif action == "plan.finish":
        record_finished(
            session,
            workflow_id=workflow_id,
            status=outcome,
            message=str(details.get("message", "")),
        )


def _summaries(session: Session, rows: list[PlanExecution]) -> list[PlanSummary]:
    waiting = set(
        session.execute(
            select(ApprovalRequest.workflow_id).where(
                ApprovalRequest.workflow_id.in_([r.id for r in rows]),
                ApprovalRequest.status == PENDING,
            )
        ).scalars()
    )
    out = []
    for row in rows:
        summary = PlanSummary.model_validate(row)
        if row.status == RUNNING and row.id in waiting:
            summary.status = "waiting_approval"
        out.append(summary)
    return out


def list_plans(
    session: Session,
    *,
    principal: Principal,
    status: str | None = None,
    limit: int = 50,
    include_sentry: bool = False,
) -> list[PlanSummary]:
    """The caller's tenant's plans, newest first; the deployment sentry's scheduled checks (one
    every few minutes) only when asked for."""
    query = owned(PlanExecution, principal).order_by(PlanExecution.created_at.desc())
    if status is not None:
        query = query.where(PlanExecution.status == status)
    if not include_sentry:
        query = query.where(PlanExecution.proposer != SENTRY_SUBJECT)
    return _summaries(session, list(session.execute(query.limit(limit)).scalars()))


def get_plan(session: Session, *, principal: Principal, workflow_id: str) -> PlanSummary:
    """One of the caller's tenant's plans (another tenant's is `NotFound`, like a missing one)."""
    row = get_owned(session, PlanExecution, workflow_id, principal)
    [summary] = _summaries(session, [row])
    return summary
