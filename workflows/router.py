"""/api/v1/plans: propose plans (or the lifecycle and rollback templates), follow their progress,
amend and cancel them; /api/v1/sentries: start, list and stop deployment sentries. Handlers are
thin: each calls one flow (workflows/flows.py), which checks the policy and does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sentimentops.core.http.deps import FlowDep
from sentimentops.core.vocabulary import Task
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal
from sentimentops.workflows import flows
from sentimentops.workflows.schemas import (
    WORKFLOW_ID_PATTERN,
    AmendIn,
    LifecycleIn,
    PlanAccepted,
    PlanDetail,
    PlanIn,
    PlanRequested,
    PlanSummary,
    RollbackIn,
    SentryIn,
    SentryOut,
)

router = APIRouter(prefix=flows.PLANS_PATH, tags=["plans"], dependencies=[AUTHENTICATED])

WorkflowId = Annotated[str, Path(pattern=WORKFLOW_ID_PATTERN)]


@router.post(
    "",
    status_code=202,
    operation_id="plans-propose",
)
async def propose_plan(body: PlanIn, principal: CurrentPrincipal, flows_: FlowDep) -> PlanAccepted:
    """Start a plan of typed tool calls; answers at once with the workflow id to follow."""
    return await flows.propose_plan_flow(flows_, principal, body)


@router.post(
    "/lifecycle",
    status_code=202,
    operation_id="plans-start_lifecycle",
)
async def start_lifecycle(
    body: LifecycleIn, principal: CurrentPrincipal, flows_: FlowDep
) -> PlanAccepted:
    """Validate → train → evaluate → compare → staging → canary → soak → production
    (approval)."""
    return await flows.start_lifecycle_flow(flows_, principal, body)


@router.post(
    "/rollback",
    status_code=202,
    operation_id="plans-start_rollback",
)
async def start_rollback(
    body: RollbackIn, principal: CurrentPrincipal, flows_: FlowDep
) -> PlanAccepted:
    """Roll a task's alias back (beyond one version, policy asks for an approval)."""
    return await flows.start_rollback_flow(flows_, principal, body)


@router.get("", operation_id="plans-list")
async def list_plans(
    principal: CurrentPrincipal,
    flows_: FlowDep,
    plan_status: Annotated[
        str | None, Query(alias="status", pattern="^[a-z_]{1,24}$", description="final status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    sentry: Annotated[bool, Query(description="include the sentry's scheduled checks")] = False,
) -> list[PlanSummary]:
    """The tenant's plans, newest first."""
    return await flows.list_plans_flow(
        flows_, principal, status=plan_status, limit=limit, include_sentry=sentry
    )


@router.get("/{workflow_id}", operation_id="plans-get")
async def get_plan(
    workflow_id: WorkflowId, principal: CurrentPrincipal, flows_: FlowDep
) -> PlanDetail:
    """A plan and its live progress: each step's policy decision, approval and result."""
    return await flows.plan_detail_flow(flows_, principal, workflow_id)


@router.post(
    "/{workflow_id}/amend",
    status_code=202,
    operation_id="plans-amend",
)
async def amend(
    workflow_id: WorkflowId, body: AmendIn, principal: CurrentPrincipal, flows_: FlowDep
) -> PlanRequested:
    """Replace the steps that have not started. The plan hash changes, so approvals given for
    the old plan stop counting; read the plan again for its new hash."""
    await flows.amend_plan_flow(flows_, principal, workflow_id, body)
    return PlanRequested(workflow_id=workflow_id, status_url=f"{router.prefix}/{workflow_id}")


@router.post(
    "/{workflow_id}/cancel",
    status_code=202,
    operation_id="plans-cancel",
)
async def cancel(
    workflow_id: WorkflowId, principal: CurrentPrincipal, flows_: FlowDep
) -> PlanRequested:
    """Stop the plan: the approval it waits for is closed and it ends as `cancelled`."""
    await flows.cancel_plan_flow(flows_, principal, workflow_id)
    return PlanRequested(workflow_id=workflow_id, status_url=f"{router.prefix}/{workflow_id}")


# --- Deployment sentries -------------------------------------------------------------------------

sentry_router = APIRouter(
    prefix="/api/v1/sentries", tags=["sentries"], dependencies=[AUTHENTICATED]
)


@sentry_router.get("", operation_id="sentries-list")
async def list_sentries(principal: CurrentPrincipal, flows_: FlowDep) -> list[SentryOut]:
    """The tenant's sentry per task (its checks are plans: GET /api/v1/plans?sentry=true)."""
    return await flows.list_sentries_flow(flows_, principal)


@sentry_router.post(
    "",
    status_code=202,
    operation_id="sentries-start",
)
async def start_sentry(body: SentryIn, principal: CurrentPrincipal, flows_: FlowDep) -> SentryOut:
    """Watch a task's production model: checks every `interval_seconds`, rollback on breach."""
    return await flows.start_sentry_flow(flows_, principal, body)


@sentry_router.delete(
    "",
    status_code=202,
    operation_id="sentries-stop",
)
async def stop_sentry(
    task: Annotated[Task, Query()], principal: CurrentPrincipal, flows_: FlowDep
) -> SentryOut:
    """Stop the task's sentry (a check in progress is cancelled with it)."""
    return await flows.stop_sentry_flow(flows_, principal, task)
