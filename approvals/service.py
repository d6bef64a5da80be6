"""Approval requests: created by the plan workflow, decided by approvers, always audited.

A decision is refused when the approver is an agent, proposed the plan, lacks the request's
role, belongs to another tenant (the request is then simply not found), the request expired or
was superseded, or the plan hash the approver reviewed differs from the request's. The approval
policy (policies/rego/sentimentops/approvals.rego, asked by approvals/flows.py) refuses the
first two as well, and the person who asked an agent for its plan. Refusals are audited by
record_refusal, in a transaction of their own (approvals/flows.py).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from sentimentops.approvals.errors import ApprovalClosed, ApprovalRefused
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.core.audit import service as audit
from sentimentops.core.vocabulary import ApprovalStatus, AuditOutcome, PrincipalKind, Role
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned, owned_id_by_prefix, tenant_id_of

PENDING = ApprovalStatus.PENDING
STATUSES = tuple(ApprovalStatus)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def create_request(
    session: Session,
    *,
    tenant: str,
    workflow_id: str,
    plan_hash: str,
    step_index: int,
    tool: str,
    params: dict[str, Any],
    requester: str,
    requester_kind: str,
    rationale: str,
    reasons: list[str],
    ttl_seconds: float,
    requested_by: str | None = None,
    required_role: Role = Role.APPROVER,
    tenant_id: str | None = None,
) -> ApprovalRequest:
    """A pending request for `tenant` (a slug; `tenant_id` when the caller carries it), bound
    to the plan hash and step."""
    tenant_id = tenant_id_of(session, tenant, known=tenant_id)
    now = _now()
    request = ApprovalRequest(
        id=secrets.token_hex(16),
        tenant_id=tenant_id,
        workflow_id=workflow_id,
        plan_hash=plan_hash,
        step_index=step_index,
        tool=tool,
        params=params,
        requester=requester,
        requester_kind=requester_kind,
        requested_by=requested_by,
        required_role=required_role.value,
        rationale=rationale,
        reasons=reasons,
        status=PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=requester,
        tenant=tenant,
        action="approval.request",
        resource=f"approval/{request.id}",
        outcome=AuditOutcome.PENDING,
        details={
            "workflow_id": workflow_id,
            "plan_hash": plan_hash,
            "step_index": step_index,
            "tool": tool,
            "params": params,
            "reasons": reasons,
            "requested_by": requested_by,
        },
    )
    return request


def list_requests(
    session: Session, *, principal: Principal, status: str | None = None, limit: int = 100
) -> list[ApprovalRequest]:
    query = owned(ApprovalRequest, principal).order_by(ApprovalRequest.created_at.desc())
    if status is not None:
        query = query.where(ApprovalRequest.status == status)
    return list(session.execute(query.limit(limit)).scalars())


def get_request(session: Session, *, principal: Principal, approval_id: str) -> ApprovalRequest:
    return get_owned(session, ApprovalRequest, approval_id, principal)


def resolve_request_id(session: Session, *, principal: Principal, ref: str) -> str:
    """The full id of the caller's request `ref` names: its id, or a unique prefix of it (the CLI
    takes the start people copy; an ambiguous prefix is InvalidInput naming the matches)."""
    return owned_id_by_prefix(session, ApprovalRequest, ref, principal, what="approval request")


def close_request(session: Session, *, approval_id: str, status: str, actor: str) -> None:
    """Mark a pending request expired, superseded or cancelled (by the workflow that asked)."""
    request = session.get(ApprovalRequest, approval_id)
    if request is None or request.status != PENDING:
        return
    request.status = status
    request.decided_at = _now()
    tenant = session.get(Tenant, request.tenant_id)
    audit.record(
        session,
        actor=actor,
        tenant=tenant.slug if tenant is not None else request.tenant_id,
        action=f"approval.{status}",
        resource=f"approval/{request.id}",
        outcome=status,
        details={"workflow_id": request.workflow_id, "plan_hash": request.plan_hash},
    )


def record_refusal(
    session: Session, *, principal: Principal, approval_id: str, error: Exception
) -> None:
    """Audit a refused decision (in its own transaction: the decision's was rolled back). A
    request refused because it expired is marked expired."""
    request = get_owned(session, ApprovalRequest, approval_id, principal)
    if request.status == PENDING and _aware(request.expires_at) <= _now():
        request.status = ApprovalStatus.EXPIRED
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="approval.decide",
        resource=f"approval/{request.id}",
        outcome=AuditOutcome.REFUSED,
        details={
            "reason": str(error),
            "plan_hash": request.plan_hash,
            "workflow_id": request.workflow_id,
        },
    )


def check_decision(
    request: ApprovalRequest, *, principal: Principal, plan_hash: str | None = None
) -> None:
    """Refuse a decision the request itself forbids (ApprovalClosed/ApprovalRefused): closed,
    expired, an approver without the role, an agent or the proposer, a changed plan hash."""
    if request.status == ApprovalStatus.SUPERSEDED:
        raise ApprovalClosed(
            "the plan changed after this request was made; decide the new request instead"
        )
    if request.status != PENDING:
        raise ApprovalClosed(f"request is {request.status}")
    if _aware(request.expires_at) <= _now():
        raise ApprovalClosed("request expired")
    if not principal.has_role(Role(request.required_role)):
        raise ApprovalRefused(f"deciding needs the {request.required_role} role")
    if principal.kind is PrincipalKind.AGENT or principal.has_role(Role.AGENT):
        raise ApprovalRefused("an agent can never approve a plan")
    if request.requester in (principal.subject, principal.actor):
        raise ApprovalRefused("the proposer of a plan cannot approve it")
    if plan_hash is not None and plan_hash != request.plan_hash:
        raise ApprovalClosed("the plan changed: the reviewed plan hash does not match the request")


def decide(
    session: Session,
    *,
    principal: Principal,
    approval_id: str,
    approve: bool,
    plan_hash: str | None = None,
    comment: str | None = None,
) -> ApprovalRequest:
    """Approve or reject a pending request (ApprovalClosed/ApprovalRefused otherwise: the caller
    rolls back and records the refusal with record_refusal)."""
    request = get_owned(session, ApprovalRequest, approval_id, principal)
    check_decision(request, principal=principal, plan_hash=plan_hash)
    # Claimed with a conditional UPDATE, not by assigning the row read above: two decisions
    # racing (a double click, two API replicas) both read "pending", and only the one whose
    # UPDATE still finds it pending wins; the other is told the request was decided.
    claimed = session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == request.id, ApprovalRequest.status == PENDING)
        .values(
            status=ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED,
            decided_by=principal.actor,
            decided_at=_now(),
            comment=comment,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise ApprovalClosed("request was decided meanwhile")
    session.refresh(request)
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="approval.approve" if approve else "approval.reject",
        resource=f"approval/{request.id}",
        outcome=request.status,
        details={
            "workflow_id": request.workflow_id,
            "plan_hash": request.plan_hash,
            "step_index": request.step_index,
            "tool": request.tool,
            "comment": comment,
        },
    )
    session.flush()
    return request
