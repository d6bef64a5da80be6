"""Approval flows: deciding a request and telling the waiting workflow. The API, the CLI and
(next) Slack call these; none of them checks, commits or signals on its own."""

from __future__ import annotations

from temporalio.client import Client

from sentimentops.approvals import service
from sentimentops.approvals.errors import ApprovalClosed
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.permissions import can_decide_approvals
from sentimentops.approvals.schemas import APPROVAL_SIGNAL, ApprovalSignal
from sentimentops.core.errors import Conflict, Forbidden, ServiceUnavailable, temporal_errors
from sentimentops.core.flows import FlowContext
from sentimentops.core.vocabulary import ApprovalStatus
from sentimentops.identity.principal import Principal


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


async def decide_approval_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    approval_id: str,
    approve: bool,
    plan_hash: str | None = None,
    comment: str | None = None,
) -> ApprovalRequest:
    """Approve or reject: the approver policy, the service's checks (never the proposer, the
    plan hash, expiry), the decision committed and audited, then the workflow signalled. The
    decision is committed before the signal, so when Temporal is away it is not lost:
    `resend_decision_flow` delivers it later. A refusal is audited in its own transaction."""
    try:
        can_decide_approvals(principal)
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
