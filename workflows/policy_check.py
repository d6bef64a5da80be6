"""The spine of every lifecycle workflow, on its own: ask policy about one tool call and record
the answer. Later workflows (plan execution, model lifecycle) run this check before each step."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from sentimentops.workflows.activities import PolicyActivities
    from sentimentops.workflows.schemas import PolicyCheckResult, ToolCallRequest


@workflow.defn(name="PolicyCheck")
class PolicyCheckWorkflow:
    @workflow.run
    async def run(self, request: ToolCallRequest) -> PolicyCheckResult:
        return await workflow.execute_activity_method(
            PolicyActivities.check_policy,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            # OPA or the database being briefly away is retried; a denial is an answer, not an
            # error, so it is never retried.
            retry_policy=RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=1)),
        )
