"""Approval flows: deciding a request and telling the waiting workflow. The API, the CLI and
(next) Slack call these; none of them checks, commits or signals on its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import Client

from sentimentops.approvals import service
from sentimentops.approvals.errors import ApprovalClosed, ApprovalRefused
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.permissions import can_decide_approvals
from sentimentops.approvals.schemas import APPROVAL_SIGNAL, ApprovalSignal
from sentimentops.core.errors import Conflict, Forbidden, ServiceUnavailable, temporal_errors
from sentimentops.core.flows import FlowContext
from sentimentops.core.policy import OpaPolicyEngine, PolicyEngine
from sentimentops.core.vocabulary import ApprovalStatus
from sentimentops.identity.principal import Principal

APPROVALS_PACKAGE = "sentimentops.approvals"


async def signal_decision(client: Client, workflow_id: str, signal: ApprovalSignal) -> None:
    with temporal_errors(f"signalling workflow {workflow_id}"):
        await client.get_workflow_handle(workflow_id).signal(APPROVAL_SIGNAL, signal)


async def send_decision(client: Client, row: ApprovalRequest) -> None:
    """Signal a decided request's workflow (repeatable: the workflow ignores a repeat)."""
    signal = ApprovalSignal(
        approval_id=row.id,
        plan_hash=row.plan_hash,
        step_index=row.step_index,
        approved=row.status == ApprovalStatus.APPROVED,
        decided_by=row.decided_by or "",
        comment=row.comment,
    )
    await signal_decision(client, row.workflow_id, signal)


async def check_approver(policy: PolicyEngine, principal: Principal, row: ApprovalRequest) -> None:
    """Ask the approval policy whether `principal` may decide `row` (ApprovalRefused if not)."""
    input_data: dict[str, Any] = {
        "approver": {
            "subject": principal.subject,
            "actor": principal.actor,
            "kind": principal.kind.value,
            "roles": sorted(role.value for role in principal.roles),
        },
        "request": {
            "requester": row.requester,
            "requester_kind": row.requester_kind,
            "requested_by": row.requested_by,
        },
    }
    decision = await policy.query(package=APPROVALS_PACKAGE, rule="decision", input_data=input_data)
    if decision.get("allow") is not True:
        raise ApprovalRefused("; ".join(decision.get("reasons") or ["refused by policy"]))


async def decide_approval_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    approval_id: str,
    approve: bool,
    plan_hash: str | None = None,
    comment: str | None = None,
    policy: PolicyEngine | None = None,
) -> ApprovalRequest:
    """Approve or reject: the approver permission, the service's checks (never an agent, never
    the proposer, the plan hash, expiry), the approval policy (OPA, `policy` or the settings'
    server: the same rules, and not the person who asked the agent for the plan when policy
    says so), the decision committed and audited (the service's checks again, in its
    transaction), then the workflow signalled. The decision is committed before the signal,
    so when Temporal is away it is not lost: `resend_decision_flow` delivers it later. A
    refusal is audited in its own transaction."""

    def checked(session: Session) -> ApprovalRequest:
        request = service.get_request(session, principal=principal, approval_id=approval_id)
        service.check_decision(request, principal=principal, plan_hash=plan_hash)
        return request

    try:
        can_decide_approvals(principal)
        request = await ctx.read(checked)
        await check_approver(
            policy or OpaPolicyEngine(ctx.settings.resolved_opa_url), principal, request
        )
        row = await ctx.write(
            lambda session: service.decide(
                session,
                principal=principal,
                approval_id=approval_id,
                approve=approve,
                plan_hash=plan_hash,
                comment=comment,
            )
        )
    except (Forbidden, ApprovalClosed) as exc:
        refusal = exc
        await ctx.write(
            lambda session: service.record_refusal(
                session, principal=principal, approval_id=approval_id, error=refusal
            )
        )
        raise
    try:
        await send_decision(await ctx.temporal(), row)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            f"the decision is recorded, but {exc}; deliver it with "
            f"`sentimentops approvals resend {row.id}` once Temporal is back"
        ) from exc
    return row


async def resend_decision_flow(
    ctx: FlowContext, principal: Principal, *, approval_id: str
) -> ApprovalRequest:
    """Deliver a recorded decision again (when Temporal was away at decision time)."""
    can_decide_approvals(principal)
    row = await ctx.read(
        lambda session: service.get_request(session, principal=principal, approval_id=approval_id)
    )
    if row.status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        raise Conflict(f"request is {row.status}; only decided requests are re-sent")
    await send_decision(await ctx.temporal(), row)
    return row
