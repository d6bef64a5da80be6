"""Starting workflows from the CLI and the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import Client

from sentimentops.core.policy import Principal
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect
from sentimentops.workflows.plan import PlanExecutionWorkflow
from sentimentops.workflows.policy_check import PolicyCheckWorkflow
from sentimentops.workflows.schemas import (
    AmendPlan,
    Plan,
    PlanExecutionInput,
    PlanProgress,
    PolicyCheckResult,
    ToolCallRequest,
)
from sentimentops.workflows.sentry import DeploymentSentryWorkflow, SentryInput, SentryStatus

# The principal `up` uses for its end-to-end smoke check: a system identity in the platform's
# own tenant, asking for the most harmless tool there is.
SMOKE_CHECK_REQUEST = ToolCallRequest(
    principal=Principal(subject="system:up", kind="human", roles=["viewer"], tenant="system"),
    tenant="system",
    tool="get_service_metrics",
)


async def run_policy_check(
    settings: Settings, request: ToolCallRequest, *, execution_timeout_s: float = 60.0
) -> tuple[str, PolicyCheckResult]:
    client = await connect(settings)
    workflow_id = f"policy-check-{uuid.uuid4().hex[:12]}"
    result = await client.execute_workflow(
        PolicyCheckWorkflow.run,
        request,
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
        execution_timeout=timedelta(seconds=execution_timeout_s),
    )
    return workflow_id, result


# --- Plans -------------------------------------------------------------------------------------


def plan_workflow_id(plan: Plan) -> str:
    return f"plan-{plan.tenant}-{uuid.uuid4().hex[:12]}"


async def start_plan(
    client: Client, settings: Settings, plan: Plan, *, workflow_id: str | None = None
) -> str:
    """Start a plan execution (returns at once; the plan runs durably in Temporal)."""
    workflow_id = workflow_id or plan_workflow_id(plan)
    await client.start_workflow(
        PlanExecutionWorkflow.run,
        PlanExecutionInput(
            plan=plan,
            task_queue=settings.temporal_task_queue,
            training_task_queue=settings.training_task_queue,
            training_heartbeat_seconds=settings.training_heartbeat_seconds,
            gpu_task_queue=settings.gpu_task_queue,
        ),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
    )
    return workflow_id


async def plan_progress(
    client: Client, workflow_id: str, *, rpc_timeout: timedelta | None = None
) -> PlanProgress:
    """The plan's progress, answered by a worker (the server waits up to 30 s for one; the
    API asks for less, so a request fails fast when no worker runs)."""
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query(PlanExecutionWorkflow.progress, rpc_timeout=rpc_timeout)


async def amend_plan(client: Client, workflow_id: str, amendment: AmendPlan) -> None:
    await client.get_workflow_handle(workflow_id).signal(PlanExecutionWorkflow.amend, amendment)


async def cancel_workflow(client: Client, workflow_id: str) -> None:
    """Ask a plan or a sentry to stop: a plan closes the approval it waits for, records the end
    and finishes as cancelled; a sentry stops between (or during) its checks."""
    await client.get_workflow_handle(workflow_id).cancel()


async def list_plans(client: Client, *, limit: int = 20) -> list[tuple[str, str, str]]:
    """(workflow id, status, start time) of the newest plan executions."""
    found: list[tuple[str, str, str]] = []
    async for execution in client.list_workflows("WorkflowType = 'PlanExecution'"):
        status = execution.status.name if execution.status is not None else "UNKNOWN"
        found.append((execution.id, status, execution.start_time.isoformat(timespec="seconds")))
        if len(found) >= limit:
            break
    return found


# --- Deployment sentry -------------------------------------------------------------------------


def sentry_workflow_id(tenant: str, task: str) -> str:
    """One sentry per tenant and task: starting a second one is refused by Temporal."""
    return f"sentry-{tenant}-{task}"


async def start_sentry(
    client: Client,
    settings: Settings,
    *,
    tenant: str,
    tenant_id: str,
    task: str,
    interval_seconds: float,
    window_seconds: float,
    max_checks: int | None = None,
) -> str:
    workflow_id = sentry_workflow_id(tenant, task)
    await client.start_workflow(
        DeploymentSentryWorkflow.run,
        SentryInput(
            tenant=tenant,
            tenant_id=tenant_id,
            task=task,
            interval_seconds=interval_seconds,
            window_seconds=window_seconds,
            max_checks=max_checks,
            task_queue=settings.temporal_task_queue,
            training_task_queue=settings.training_task_queue,
        ),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
    )
    return workflow_id


async def sentry_status(client: Client, workflow_id: str) -> SentryStatus:
    return await client.get_workflow_handle(workflow_id).query(DeploymentSentryWorkflow.status)
