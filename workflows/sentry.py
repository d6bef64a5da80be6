"""The deployment sentry: a long-running workflow that checks a task's production model on a
schedule and rolls it back when its service metrics, its drift or its accuracy on feedback and
labelled texts breach the gates.

Each check is an ordinary plan (workflows/plan.py), proposed by the sentry as an *agent*, so the
same policy and audit apply as to any agent: the metric, drift and feedback tools are agents'
read-only tools (policy data `agent_read_only_tools`); on a failed gate the plan's fallback rolls
production back one version, which policy lets an agent do without waiting (design card: a
human must agree to anything further), and anything policy marks as needing approval waits for
one like every other plan step. After a check that
breached a gate or rolled back, the sentry_incident activity has the Deployment Sentry agent
write the incident to a thread of the tenant, with a proposed next step for a person to submit,
and notifies. The workflow continues as new every `checks_per_run` checks so that its history
stays small.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from sentimentops.core.policy import Principal
    from sentimentops.core.vocabulary import PlanStatus, StepStatus
    from sentimentops.workflows.activities import IncidentActivities, SentryIncident
    from sentimentops.workflows.plan import PlanExecutionWorkflow
    from sentimentops.workflows.schemas import (
        SENTRY_SUBJECT,
        Plan,
        PlanExecutionInput,
        PlanProgress,
        PlanStep,
    )

# Checks from this version on report a breach or rollback to the Deployment Sentry agent;
# histories recorded before it replay without that activity.
SENTRY_INCIDENT = "sentry-incident"
# Checks from this version on also gate on the production model's accuracy on feedback and
# labelled texts (the feedback_accuracy tool); a check is a child workflow whose input is the
# plan, so histories recorded before it must keep starting the old plan.
SENTRY_FEEDBACK_GATE = "sentry-feedback-gate"
# Writing the incident runs the agent (reads, a draft): minutes at most. A failure is logged and
# the sentry goes on watching; the rollback, if any, has already happened.
_INCIDENT_TIMEOUT = timedelta(minutes=5)
_INCIDENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=3,
)


class SentryInput(BaseModel):
    tenant: str
    task: str
    tenant_id: str | None = None  # None only in histories recorded before it was carried
    interval_seconds: float = Field(default=300.0, ge=1, le=86_400)
    window_seconds: float = Field(default=900.0, gt=0, le=30 * 86_400)
    checks_per_run: int = Field(default=100, ge=1, le=10_000)
    max_checks: int | None = Field(default=None, ge=1, description="stop after N (tests)")
    checks_done: int = 0
    task_queue: str
    training_task_queue: str


class SentryStatus(BaseModel):
    checks_done: int
    last_check: str | None
    last_status: str | None
    last_message: str
    rollbacks: int


def check_plan(sentry: SentryInput, *, feedback_gate: bool) -> Plan:
    """One check: metrics, drift and (with `feedback_gate`) feedback accuracy of production,
    each a gate whose failure rolls back."""
    rollback = PlanStep(
        tool="rollback_model",
        params={"task": sentry.task, "alias": "production", "steps": 1},
        rationale="the production model breached the sentry's gates",
    )
    steps = [
        PlanStep(
            tool="get_service_metrics",
            params={
                "task": sentry.task,
                "alias": "production",
                "window_seconds": sentry.window_seconds,
            },
            gate=True,
            on_gate_failure=[rollback],
        ),
        PlanStep(
            tool="detect_drift",
            params={"task": sentry.task, "window_seconds": sentry.window_seconds},
            gate=True,
            on_gate_failure=[rollback],
        ),
    ]
    if feedback_gate:
        # Over the tool's own window (days): labels arrive long after the answers they judge.
        steps.append(
            PlanStep(
                tool="feedback_accuracy",
                params={"task": sentry.task, "alias": "production"},
                gate=True,
                on_gate_failure=[rollback],
            )
        )
    return Plan(
        tenant=sentry.tenant,
        proposer=Principal(
            subject=SENTRY_SUBJECT,
            kind="agent",
            roles=["agent"],
            tenant=sentry.tenant,
            tenant_id=sentry.tenant_id,
        ),
        rationale=f"deployment sentry check of {sentry.task}@production",
        steps=steps,
    )


@workflow.defn(name="DeploymentSentry")
class DeploymentSentryWorkflow:
    def __init__(self) -> None:
        self._status = SentryStatus(
            checks_done=0, last_check=None, last_status=None, last_message="", rollbacks=0
        )

    @workflow.query
    def status(self) -> SentryStatus:
        return self._status

    @workflow.run
    async def run(self, sentry: SentryInput) -> SentryStatus:
        self._status.checks_done = sentry.checks_done
        for _ in range(sentry.checks_per_run):
            if sentry.max_checks is not None and self._status.checks_done >= sentry.max_checks:
                return self._status
            check_id = f"{workflow.info().workflow_id}-check-{self._status.checks_done + 1}"
            plan = check_plan(sentry, feedback_gate=workflow.patched(SENTRY_FEEDBACK_GATE))
            try:
                progress: PlanProgress = await workflow.execute_child_workflow(
                    PlanExecutionWorkflow.run,
                    PlanExecutionInput(
                        plan=plan,
                        task_queue=sentry.task_queue,
                        training_task_queue=sentry.training_task_queue,
                    ),
                    id=check_id,
                    task_queue=sentry.task_queue,
                )
            except ChildWorkflowError as exc:
                if isinstance(exc.cause, CancelledError):  # `sentry stop` during a check
                    raise asyncio.CancelledError("the sentry was stopped") from exc
                raise
            self._status.checks_done += 1
            self._status.last_check = check_id
            self._status.last_status = progress.status
            self._status.last_message = progress.message
            rolled_back = any(
                s.tool == "rollback_model" and s.status == StepStatus.SUCCEEDED
                for s in progress.steps
            )
            if rolled_back:
                self._status.rollbacks += 1
            breached = progress.status == PlanStatus.GATE_FAILED or rolled_back
            if breached and workflow.patched(SENTRY_INCIDENT):
                await self._incident(sentry, check_id, progress)
            await workflow.sleep(timedelta(seconds=sentry.interval_seconds))
        workflow.continue_as_new(
            sentry.model_copy(update={"checks_done": self._status.checks_done})
        )

    async def _incident(self, sentry: SentryInput, check_id: str, progress: PlanProgress) -> None:
        try:
            await workflow.execute_activity_method(
                IncidentActivities.sentry_incident,
                SentryIncident(
                    tenant=sentry.tenant,
                    tenant_id=sentry.tenant_id,
                    task=sentry.task,
                    check_id=check_id,
                    checked_at=workflow.now(),
                    window_seconds=sentry.window_seconds,
                    progress=progress,
                ),
                start_to_close_timeout=_INCIDENT_TIMEOUT,
                retry_policy=_INCIDENT_RETRY,
            )
        except ActivityError as exc:
            if isinstance(exc.cause, CancelledError):
                raise  # `sentry stop` while the incident was written
            workflow.logger.warning("incident report of %s failed: %s", check_id, exc.cause)
