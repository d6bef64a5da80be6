"""Plan and sentry flows: propose a plan or a template (lifecycle, rollback) with its defaults
resolved, read a plan's progress, amend it, cancel it, start and stop deployment sentries. Each
checks its named permission itself, so no entry point (API, CLI, Slack, agents) can skip one."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import partial

from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus

from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, Forbidden, InvalidInput, NotFound, temporal_errors
from sentimentops.core.flows import FlowContext
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.core.vocabulary import TASKS, AuditOutcome, PlanStatus, Task
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import owned_id_by_prefix
from sentimentops.workflows import service
from sentimentops.workflows.client import (
    amend_plan,
    cancel_workflow,
    plan_progress,
    plan_workflow_id,
    sentry_workflow_id,
    start_plan,
    start_sentry,
)
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.permissions import (
    can_amend_plan,
    can_cancel_plan,
    can_propose_plans,
    can_read_plans,
)
from sentimentops.workflows.schemas import (
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
    plan_hash,
)
from sentimentops.workflows.templates import lifecycle_plan, rollback_plan

PLANS_PATH = "/api/v1/plans"
REGISTRY_WAIT_SECONDS = 5.0
# Progress comes from a workflow query, which a worker answers: without one, fail fast.
QUERY_TIMEOUT = timedelta(seconds=10)


async def _start(ctx: FlowContext, plan: Plan) -> PlanAccepted:
    workflow_id = plan_workflow_id(plan)
    client = await ctx.temporal()
    with temporal_errors(f"starting plan {workflow_id}"):
        await start_plan(client, ctx.settings, plan, workflow_id=workflow_id)
    digest = plan_hash(plan)
    await _until_registered(ctx, workflow_id)
    return PlanAccepted(
        workflow_id=workflow_id,
        plan_hash=digest,
        status_url=f"{PLANS_PATH}/{workflow_id}",
        workflow_url=workflow_ui_url(ctx.settings, workflow_id),
    )


async def _until_registered(ctx: FlowContext, workflow_id: str) -> None:
    """Wait (briefly) for the workflow's first activity to write the plan's registry row, so that
    the caller can read the plan at once. The workflow is the registry's only writer; without a
    running worker the row comes later, and the 202 stands (the plan is durably started)."""
    deadline = time.monotonic() + REGISTRY_WAIT_SECONDS
    while time.monotonic() < deadline:
        if await ctx.read(lambda session: service.is_recorded(session, workflow_id=workflow_id)):
            return
        await asyncio.sleep(0.05)


async def propose_plan_flow(ctx: FlowContext, principal: Principal, body: PlanIn) -> PlanAccepted:
    """Start a plan of typed tool calls for the caller's tenant, under the caller's name."""
    can_propose_plans(principal)
    service.check_tools(body.steps)
    plan = service.caller_plan(
        principal,
        rationale=body.rationale,
        steps=body.steps,
        approval_timeout_seconds=body.approval_timeout_seconds,
    )
    return await _start(ctx, plan)


async def start_lifecycle_flow(
    ctx: FlowContext, principal: Principal, body: LifecycleIn
) -> PlanAccepted:
    """The lifecycle template, with the values the caller left unset taken from settings. A
    dataset version is looked up now (the caller's tenant's, NotFound otherwise) and the plan
    names its full id, so that an approval is bound to exactly that data."""
    can_propose_plans(principal)
    settings = ctx.settings
    dataset_version = None
    if body.dataset_version is not None:
        dataset_version = await ctx.read(
            partial(_dataset_version, principal=principal, task=body.task, ref=body.dataset_version)
        )
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
        dataset_version=dataset_version,
    )
    return await _start(ctx, plan)


def _dataset_version(session: Session, *, principal: Principal, task: str, ref: str) -> str:
    # pandas comes with the dataset service: imported only when a lifecycle names a version.
    from sentimentops.training.datasets import service as datasets

    version = datasets.get_version(session, tenant_id=principal.tenant_id, ref=ref)
    if version.task != task:
        raise InvalidInput(f"dataset version {version.id} is for {version.task}, not {task}")
    return version.id


async def start_rollback_flow(
    ctx: FlowContext, principal: Principal, body: RollbackIn
) -> PlanAccepted:
    can_propose_plans(principal)
    plan = rollback_plan(
        tenant=principal.tenant,
        proposer=service.proposer_of(principal),
        task=body.task,
        alias=body.alias,
        steps=body.steps,
    )
    return await _start(ctx, plan)


def _with_link(ctx: FlowContext, summary: PlanSummary) -> PlanSummary:
    summary.workflow_url = workflow_ui_url(ctx.settings, summary.id)
    return summary


async def _lookup(ctx: FlowContext, principal: Principal, workflow_id: str) -> PlanSummary:
    """The caller's tenant's plan (another tenant's is NotFound), read before any Temporal call."""
    summary = await ctx.read(
        lambda session: service.get_plan(session, principal=principal, workflow_id=workflow_id)
    )
    return _with_link(ctx, summary)


async def list_plans_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    status: str | None = None,
    limit: int = 50,
    include_sentry: bool = False,
) -> list[PlanSummary]:
    """The caller's tenant's plans, newest first, each with the plan's own status from the
    registry (Temporal's would say COMPLETED for a plan that failed a gate or was denied: the
    workflow itself ended normally)."""
    can_read_plans(principal)
    rows = await ctx.read(
        lambda session: service.list_plans(
            session,
            principal=principal,
            status=status,
            limit=limit,
            include_sentry=include_sentry,
        )
    )
    return [_with_link(ctx, row) for row in rows]


async def resolve_plan_id_flow(ctx: FlowContext, principal: Principal, ref: str) -> str:
    """The workflow id of the caller's plan that `ref` names: the id itself or a unique prefix
    of it (an ambiguous one is InvalidInput naming the matches)."""
    can_read_plans(principal)
    return await ctx.read(
        lambda session: owned_id_by_prefix(session, PlanExecution, ref, principal, what="plan")
    )


async def plan_detail_flow(ctx: FlowContext, principal: Principal, workflow_id: str) -> PlanDetail:
    """A plan and its live progress (None once Temporal's retention dropped the workflow)."""
    can_read_plans(principal)
    summary = await _lookup(ctx, principal, workflow_id)
    client = await ctx.temporal()
    try:
        with temporal_errors(f"reading plan {workflow_id}"):
            progress = await plan_progress(client, workflow_id, rpc_timeout=QUERY_TIMEOUT)
    except NotFound:
        progress = None
    return PlanDetail(plan=summary, progress=progress)


def _still_running(summary: PlanSummary) -> None:
    if summary.status not in (PlanStatus.RUNNING, PlanStatus.WAITING_APPROVAL):
        raise Conflict(f"plan {summary.id} already ended ({summary.status})")


async def _audit_request(
    ctx: FlowContext, principal: Principal, action: str, workflow_id: str
) -> None:
    await ctx.write(
        lambda session: audit.record(
            session,
            actor=principal.actor,
            tenant=principal.tenant,
            action=action,
            resource=f"workflow/{workflow_id}",
            outcome=AuditOutcome.REQUESTED,
        )
    )


async def amend_plan_flow(
    ctx: FlowContext, principal: Principal, workflow_id: str, body: AmendIn
) -> PlanSummary:
    """Replace the steps that have not started. The plan hash changes, so approvals given for
    the old plan stop counting."""
    can_propose_plans(principal)
    summary = await _lookup(ctx, principal, workflow_id)
    can_amend_plan(principal, summary.proposer)
    _still_running(summary)
    service.check_tools(body.steps)
    client = await ctx.temporal()
    with temporal_errors(f"amending plan {workflow_id}"):
        await amend_plan(
            client, workflow_id, AmendPlan(steps=body.steps, amended_by=principal.actor)
        )
    await _audit_request(ctx, principal, "plan.amend", workflow_id)
    return summary


async def cancel_plan_flow(ctx: FlowContext, principal: Principal, workflow_id: str) -> PlanSummary:
    """Stop a plan: the approval it waits for is closed and it ends as `cancelled`. Only the
    proposer or a tenant admin may (can_cancel_plan), whichever entry point asks."""
    can_propose_plans(principal)
    summary = await _lookup(ctx, principal, workflow_id)
    can_cancel_plan(principal, summary.proposer)
    _still_running(summary)
    client = await ctx.temporal()
    with temporal_errors(f"cancelling plan {workflow_id}"):
        await cancel_workflow(client, workflow_id)
    await _audit_request(ctx, principal, "plan.cancel", workflow_id)
    return summary


# --- Deployment sentries -------------------------------------------------------------------------


async def _sentry_state(ctx: FlowContext, client: Client, tenant: str, task: Task) -> SentryOut:
    workflow_id = sentry_workflow_id(tenant, task)
    try:
        with temporal_errors(f"reading sentry {workflow_id}"):
            described = await client.get_workflow_handle(workflow_id).describe()
    except NotFound:
        return SentryOut(task=task, workflow_id=workflow_id, running=False)
    return SentryOut(
        task=task,
        workflow_id=workflow_id,
        running=described.status == WorkflowExecutionStatus.RUNNING,
        status=described.status.name if described.status is not None else None,
        started_at=described.start_time,
        workflow_url=workflow_ui_url(ctx.settings, workflow_id),
    )


async def list_sentries_flow(ctx: FlowContext, principal: Principal) -> list[SentryOut]:
    can_read_plans(principal)
    client = await ctx.temporal()
    return [await _sentry_state(ctx, client, principal.tenant, task) for task in TASKS]


async def start_sentry_flow(ctx: FlowContext, principal: Principal, body: SentryIn) -> SentryOut:
    """Watch a task's production model: checks every `interval_seconds`, rollback on breach."""
    can_propose_plans(principal)
    client = await ctx.temporal()
    workflow_id = sentry_workflow_id(principal.tenant, body.task)
    with temporal_errors(f"a sentry for {body.task} ({workflow_id})"):
        await start_sentry(
            client,
            ctx.settings,
            tenant=principal.tenant,
            tenant_id=principal.tenant_id,
            task=body.task,
            interval_seconds=body.interval_seconds,
            window_seconds=body.window_seconds,
        )
    await _audit_request(ctx, principal, "sentry.start", workflow_id)
    return await _sentry_state(ctx, client, principal.tenant, body.task)


async def stop_sentry_flow(ctx: FlowContext, principal: Principal, task: Task) -> SentryOut:
    """Stop the task's sentry (a check in progress is cancelled with it)."""
    can_propose_plans(principal)
    client = await ctx.temporal()
    state = await _sentry_state(ctx, client, principal.tenant, task)
    if not state.running:
        raise NotFound(f"no sentry is watching {task}")
    with temporal_errors(f"stopping sentry {state.workflow_id}"):
        await cancel_workflow(client, state.workflow_id)
    await _audit_request(ctx, principal, "sentry.stop", state.workflow_id)
    return state


async def submit_agent_plan_flow(
    ctx: FlowContext, principal: Principal, plan: Plan
) -> PlanAccepted:
    """Start a plan an agent drafted for the caller, submitted by the caller. The agent stays
    its proposer, so policy treats every step as an agent's (state changes wait for a human
    approval of this hash), and the caller is named as the one who asked. The deployment
    sentry's incident drafts name nobody (nobody asked): any proposer of the tenant submits
    those."""
    can_propose_plans(principal)
    unasked = plan.requested_by is None and plan.proposer.agent == "deployment-sentry"
    if plan.tenant != principal.tenant or not (unasked or plan.requested_by == principal.actor):
        raise Forbidden("only the person who asked for an agent's draft may submit it")
    if plan.proposer.kind != "agent":
        raise InvalidInput("an agent's draft must name the agent as its proposer")
    service.check_tools(plan.steps)
    return await _start(ctx, plan)
