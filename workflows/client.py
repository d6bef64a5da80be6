"""Starting workflows from the CLI and the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sentimentops.core.policy import Principal
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect
from sentimentops.workflows.policy_check import PolicyCheckWorkflow
from sentimentops.workflows.schemas import PolicyCheckResult, ToolCallRequest

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
