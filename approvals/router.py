"""/api/v1/approvals: list, read, approve and reject approval requests of the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from sentimentops.approvals import service
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.policies import can_decide_approvals, can_read_approvals
from sentimentops.approvals.schemas import ApprovalOut, DecisionIn
from sentimentops.core.api.deps import (
    AUTHENTICATED,
    CurrentPrincipal,
    SessionDep,
    SettingsDep,
    temporal_client,
)
from sentimentops.core.errors import ServiceUnavailable
from sentimentops.core.identity.principal import Principal
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.workflows.client import signal_approval
from sentimentops.workflows.schemas import ApprovalSignal

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"], dependencies=[AUTHENTICATED])


def _out(settings: Settings, row: ApprovalRequest) -> ApprovalOut:
    out = ApprovalOut.model_validate(row)
    out.workflow_url = workflow_ui_url(settings, row.workflow_id)
    return out


@router.get("", response_model=list[ApprovalOut])
def list_approvals(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(service.STATUSES) + ")$")] = None,
) -> list[ApprovalOut]:
    can_read_approvals(principal)
    rows = service.list_requests(session, principal=principal, status=status)
    return [_out(settings, r) for r in rows]


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(
    approval_id: str, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> ApprovalOut:
    can_read_approvals(principal)
    row = service.get_request(session, principal=principal, approval_id=approval_id)
    return _out(settings, row)


async def _decide(
    request: Request,
    *,
    approval_id: str,
    body: DecisionIn,
    principal: Principal,
    session: SessionDep,
    settings: Settings,
    approve: bool,
) -> ApprovalOut:
    def work() -> ApprovalRequest:
        row = service.decide(
            session,
            principal=principal,
            approval_id=approval_id,
            approve=approve,
            plan_hash=body.plan_hash,
            comment=body.comment,
        )
        session.commit()
        return row

    row = await run_in_threadpool(work)
    # After the commit: the decision is recorded even if Temporal is briefly away; the
    # waiting workflow then gets it when the call is repeated (a decided request refuses a
    # second decision, so repeat through `approvals resend` in the CLI).
    client = await temporal_client(request)
    try:
        await signal_approval(
            client,
            ApprovalSignal(
                approval_id=row.id,
                plan_hash=row.plan_hash,
                step_index=row.step_index,
                approved=approve,
                decided_by=principal.actor,
                comment=body.comment,
            ),
            row.workflow_id,
        )
    except RPCError as exc:
        raise ServiceUnavailable(f"could not signal workflow {row.workflow_id}: {exc}") from exc
    return _out(settings, row)


@router.post("/{approval_id}/approve", response_model=ApprovalOut)
async def approve(
    request: Request,
    approval_id: str,
    body: DecisionIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> ApprovalOut:
    can_decide_approvals(principal)
    return await _decide(
        request, approval_id=approval_id, body=body, principal=principal, session=session,
        settings=settings, approve=True,
    )  # fmt: skip


@router.post("/{approval_id}/reject", response_model=ApprovalOut)
async def reject(
    request: Request,
    approval_id: str,
    body: DecisionIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> ApprovalOut:
    can_decide_approvals(principal)
    return await _decide(
        request, approval_id=approval_id, body=body, principal=principal, session=session,
        settings=settings, approve=False,
    )  # fmt: skip
