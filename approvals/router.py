"""/api/v1/approvals: list, read, approve and reject approval requests of the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sentimentops.approvals import service
from sentimentops.approvals.flows import decide_approval_flow
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.permissions import can_read_approvals
from sentimentops.approvals.schemas import ApprovalOut, DecisionIn
from sentimentops.core.http.deps import FlowDep, ReadSessionDep, SettingsDep
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"], dependencies=[AUTHENTICATED])


def _out(settings: Settings, row: ApprovalRequest) -> ApprovalOut:
    out = ApprovalOut.model_validate(row)
    out.workflow_url = workflow_ui_url(settings, row.workflow_id)
    return out


@router.get("", operation_id="approvals-list")
def list_approvals(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(service.STATUSES) + ")$")] = None,
) -> list[ApprovalOut]:
    can_read_approvals(principal)
    rows = service.list_requests(session, principal=principal, status=status)
    return [_out(settings, r) for r in rows]


@router.get("/{approval_id}", operation_id="approvals-get")
def get_approval(
    approval_id: str, principal: CurrentPrincipal, session: ReadSessionDep, settings: SettingsDep
) -> ApprovalOut:
    can_read_approvals(principal)
    row = service.get_request(session, principal=principal, approval_id=approval_id)
    return _out(settings, row)


@router.post("/{approval_id}/approve", operation_id="approvals-approve")
async def approve(
    approval_id: str, body: DecisionIn, principal: CurrentPrincipal, flows: FlowDep
) -> ApprovalOut:
    """Approve a pending request; the waiting workflow continues."""
    row = await decide_approval_flow(
        flows,
        principal,
        approval_id=approval_id,
        approve=True,
        plan_hash=body.plan_hash,
        comment=body.comment,
    )
    return _out(flows.settings, row)


@router.post("/{approval_id}/reject", operation_id="approvals-reject")
async def reject(
    approval_id: str, body: DecisionIn, principal: CurrentPrincipal, flows: FlowDep
) -> ApprovalOut:
    """Reject a pending request; the waiting workflow stops as "rejected"."""
    row = await decide_approval_flow(
        flows,
        principal,
        approval_id=approval_id,
        approve=False,
        plan_hash=body.plan_hash,
        comment=body.comment,
    )
    return _out(flows.settings, row)
