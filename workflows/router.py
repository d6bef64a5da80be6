"""/api/v1/plans: propose plans (or the lifecycle and rollback templates), follow their progress,
amend and cancel them; /api/v1/sentries: start, list and stop deployment sentries. Plans always
act for the caller's tenant and under the caller's name; OPA decides each step when the
workflow reaches it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from sentimentops.core.api.deps import (
    AUTHENTICATED,
    CurrentPrincipal,
    ReadSessionDep,
    SettingsDep,
    temporal_client,
)
from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import Conflict, NotFound, ServiceUnavailable
from sentimentops.core.identity.principal import Principal
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.workflows import service
from sentimentops.workflows.client import (
    amend_plan,
    cancel_workflow,
    lifecycle_plan,
    plan_progress,
    plan_workflow_id,
    rollback_plan,
    sentry_workflow_id,
    start_plan,
    start_sentry,
)
from sentimentops.workflows.policies import (
    can_amend_plan,
    can_cancel_plan,
    can_propose_plans,
    can_read_plans,
)
from sentimentops.workflows.schemas import (
    WORKFLOW_ID_PATTERN,
    AmendIn,
    AmendPlan,
    LifecycleIn,
    Plan,
    PlanAccepted,
    PlanDetail,
    PlanIn,
    PlanSummary,
    RollbackIn,
    SentryIn,
    SentryOut,
    Task,
    plan_hash,
)

router = APIRouter(prefix="/api/v1/plans", tags=["plans"], dependencies=[AUTHENTICATED])

# Progress comes from a workflow query, which a worker answers: without one, fail fast (503).
QUERY_TIMEOUT = timedelta(seconds=10)

WorkflowId = Annotated[str, Path(pattern=WORKFLOW_ID_PATTERN)]


async def _start(request: Request, settings: Settings, plan: Plan) -> PlanAccepted:
    client = await temporal_client(request)
    workflow_id = plan_workflow_id(plan)
    try:
        await start_plan(client, settings, plan, workflow_id=workflow_id)
    except RPCError as exc:
        raise ServiceUnavailable(f"Temporal refused the plan: {exc}") from exc
    digest = plan_hash(plan)

    def record() -> None:
        with transaction(request.app.state.sessions) as session:
            service.record_started(
                session, workflow_id=workflow_id, tenant=plan.tenant,
                proposer=plan.proposer.subject, plan_hash=digest, rationale=plan.rationale,
                tools=[s.tool for s in plan.steps],
            )  # fmt: skip

    await run_in_threadpool(record)
    return PlanAccepted(
        workflow_id=workflow_id,
        plan_hash=digest,
        status_url=f"{router.prefix}/{workflow_id}",
        workflow_url=workflow_ui_url(settings, workflow_id),
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=PlanAccepted)
async def propose_plan(
    request: Request, body: PlanIn, principal: CurrentPrincipal, settings: SettingsDep
) -> PlanAccepted:
    """Start a plan of typed tool calls; answers at once with the workflow id to follow."""
    can_propose_plans(principal)
    service.check_tools(body.steps)
    plan = service.caller_plan(
        principal, rationale=body.rationale, steps=body.steps,
        approval_timeout_seconds=body.approval_timeout_seconds,
    )  # fmt: skip
    return await _start(request, settings, plan)


@router.post("/lifecycle", status_code=status.HTTP_202_ACCEPTED, response_model=PlanAccepted)
async def start_lifecycle(
    request: Request, body: LifecycleIn, principal: CurrentPrincipal, settings: SettingsDep
) -> PlanAccepted:
    """Validate → train → evaluate → compare → staging → canary → soak → production
    (approval)."""
    can_propose_plans(principal)
    plan = lifecycle_plan(
        tenant=principal.tenant,
        proposer=service.proposer_of(principal),
        task=body.task,
        family=body.family,
        max_train_samples=body.max_train_samples,
        soak_seconds=(
            settings.lifecycle_soak_seconds if body.soak_seconds is None else body.soak_seconds
        ),
        canary_share=(
            settings.lifecycle_canary_share if body.canary_share is None else body.canary_share
        ),
        approval_timeout_seconds=settings.approval_ttl_seconds,
    )
    return await _start(request, settings, plan)


@router.post("/rollback", status_code=status.HTTP_202_ACCEPTED, response_model=PlanAccepted)
async def start_rollback(
    request: Request, body: RollbackIn, principal: CurrentPrincipal, settings: SettingsDep
) -> PlanAccepted:
    """Roll a task's alias back (beyond one version, policy asks for an approval)."""
    can_propose_plans(principal)
    plan = rollback_plan(
        tenant=principal.tenant, proposer=service.proposer_of(principal), task=body.task,
        alias=body.alias, steps=body.steps,
    )  # fmt: skip
    return await _start(request, settings, plan)


def _lookup(request: Request, principal: Principal, workflow_id: str) -> PlanSummary:
    """The caller's plan, read in a session closed before the handler waits on Temporal."""
    with request.app.state.read_sessions() as session:
        return service.get_plan(session, principal=principal, workflow_id=workflow_id)


def _with_link(settings: Settings, summary: PlanSummary) -> PlanSummary:
    summary.workflow_url = workflow_ui_url(settings, summary.id)
    return summary


@router.get("", response_model=list[PlanSummary])
def list_plans(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
    plan_status: Annotated[
        str | None, Query(alias="status", pattern="^[a-z_]{1,24}$", description="final status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    sentry: Annotated[bool, Query(description="include the sentry's scheduled checks")] = False,
) -> list[PlanSummary]:
    """The tenant's plans, newest first."""
    can_read_plans(principal)
    rows = service.list_plans(
        session, principal=principal, status=plan_status, limit=limit, include_sentry=sentry
    )
    return [_with_link(settings, r) for r in rows]


@router.get("/{workflow_id}", response_model=PlanDetail)
async def get_plan(
    request: Request,
    workflow_id: WorkflowId,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> PlanDetail:
    """A plan and its live progress: each step's policy decision, approval and result."""
    can_read_plans(principal)
    summary = await run_in_threadpool(_lookup, request, principal, workflow_id)
    client = await temporal_client(request)
    try:
        progress = await plan_progress(client, workflow_id, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise ServiceUnavailable(f"Temporal did not answer for {workflow_id}: {exc}") from exc
        progress = None  # past Temporal's retention: the registry row is all that is left
    return PlanDetail(plan=_with_link(settings, summary), progress=progress)


def _still_running(summary: PlanSummary) -> None:
    if summary.status not in ("running", "waiting_approval"):
        raise Conflict(f"plan {summary.id} already ended ({summary.status})")


def _audit(request: Request, principal: Principal, action: str, workflow_id: str) -> None:
    with transaction(request.app.state.sessions) as session:
        audit.record(
            session, actor=principal.actor, tenant=principal.tenant, action=action,
            resource=f"workflow/{workflow_id}", outcome="requested",
        )  # fmt: skip


@router.post("/{workflow_id}/amend", status_code=status.HTTP_202_ACCEPTED, response_model=None)
async def amend(
    request: Request,
    workflow_id: WorkflowId,
    body: AmendIn,
    principal: CurrentPrincipal,
) -> dict[str, str]:
    """Replace the steps that have not started. The plan hash changes, so approvals given for
    the old plan stop counting; read the plan again for its new hash."""
    can_propose_plans(principal)
    summary = await run_in_threadpool(_lookup, request, principal, workflow_id)
    can_amend_plan(principal, summary.proposer)
    _still_running(summary)
    service.check_tools(body.steps)
    client = await temporal_client(request)
    try:
        await amend_plan(client, workflow_id, AmendPlan(steps=body.steps,
                                                        amended_by=principal.actor))  # fmt: skip
    except RPCError as exc:
        raise ServiceUnavailable(f"could not signal {workflow_id}: {exc}") from exc
    await run_in_threadpool(_audit, request, principal, "plan.amend", workflow_id)
    return {"workflow_id": workflow_id, "status_url": f"{router.prefix}/{workflow_id}"}


@router.post("/{workflow_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=None)
async def cancel(
    request: Request, workflow_id: WorkflowId, principal: CurrentPrincipal
) -> dict[str, str]:
    """Stop the plan: the approval it waits for is closed and it ends as `cancelled`."""
    can_propose_plans(principal)
    summary = await run_in_threadpool(_lookup, request, principal, workflow_id)
    can_cancel_plan(principal, summary.proposer)
    _still_running(summary)
    client = await temporal_client(request)
    try:
        await cancel_workflow(client, workflow_id)
    except RPCError as exc:
        raise ServiceUnavailable(f"could not cancel {workflow_id}: {exc}") from exc
    await run_in_threadpool(_audit, request, principal, "plan.cancel", workflow_id)
    return {"workflow_id": workflow_id, "status_url": f"{router.prefix}/{workflow_id}"}


# --- Deployment sentries -------------------------------------------------------------------------

sentry_router = APIRouter(
    prefix="/api/v1/sentries", tags=["sentries"], dependencies=[AUTHENTICATED]
)
TASKS: tuple[Task, ...] = ("sentiment", "sarcasm")


async def _sentry_state(client: Client, settings: Settings, tenant: str, task: Task) -> SentryOut:
    workflow_id = sentry_workflow_id(tenant, task)
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise ServiceUnavailable(f"Temporal did not answer for {workflow_id}: {exc}") from exc
        return SentryOut(task=task, workflow_id=workflow_id, running=False)
    return SentryOut(
        task=task,
        workflow_id=workflow_id,
        running=described.status == WorkflowExecutionStatus.RUNNING,
        status=described.status.name if described.status is not None else None,
        started_at=described.start_time,
        workflow_url=workflow_ui_url(settings, workflow_id),
    )


@sentry_router.get("", response_model=list[SentryOut])
async def list_sentries(
    request: Request, principal: CurrentPrincipal, settings: SettingsDep
) -> list[SentryOut]:
    """The tenant's sentry per task (its checks are plans: GET /api/v1/plans?sentry=true)."""
    can_read_plans(principal)
    client = await temporal_client(request)
    return [await _sentry_state(client, settings, principal.tenant, task) for task in TASKS]


@sentry_router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=SentryOut)
async def start_sentry_route(
    request: Request, body: SentryIn, principal: CurrentPrincipal, settings: SettingsDep
) -> SentryOut:
    """Watch a task's production model: checks every `interval_seconds`, rollback on breach."""
    can_propose_plans(principal)
    client = await temporal_client(request)
    try:
        await start_sentry(
            client, settings, tenant=principal.tenant, task=body.task,
            interval_seconds=body.interval_seconds, window_seconds=body.window_seconds,
        )  # fmt: skip
    except WorkflowAlreadyStartedError as exc:
        raise Conflict(f"a sentry already watches {body.task}") from exc
    except RPCError as exc:
        raise ServiceUnavailable(f"Temporal refused the sentry: {exc}") from exc
    workflow_id = sentry_workflow_id(principal.tenant, body.task)
    await run_in_threadpool(_audit, request, principal, "sentry.start", workflow_id)
    return await _sentry_state(client, settings, principal.tenant, body.task)


@sentry_router.delete("", status_code=status.HTTP_202_ACCEPTED, response_model=SentryOut)
async def stop_sentry_route(
    request: Request,
    task: Annotated[Task, Query()],
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> SentryOut:
    """Stop the task's sentry (a check in progress is cancelled with it)."""
    can_propose_plans(principal)
    client = await temporal_client(request)
    state = await _sentry_state(client, settings, principal.tenant, task)
    if not state.running:
        raise NotFound(f"no sentry is watching {task}")
    try:
        await cancel_workflow(client, state.workflow_id)
    except RPCError as exc:
        raise ServiceUnavailable(f"could not stop {state.workflow_id}: {exc}") from exc
    await run_in_threadpool(_audit, request, principal, "sentry.stop", state.workflow_id)
    return state
