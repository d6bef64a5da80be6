"""Plan execution: run a plan's typed tool calls in order, each asked of policy first.

For every step the workflow asks OPA (allow / deny / needs approval) and records the answer;
a denied step stops the plan before it runs; a step that needs approval creates an approval
request bound to the plan hash and step and waits durably (with the plan's timeout) for the
decision signal. Tools run as activities with retries and timeouts suited to each (training on
its own task queue, heartbeating). Amending the plan changes its hash, which voids approvals
given for the old plan. Each check tells policy the plan's hash and the approvals it received,
so that one human approval of an agent's plan covers its later steps (policy decides which
approvals count). Queries expose progress for the CLI and the UI.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from sentimentops.approvals.schemas import APPROVAL_SIGNAL, ApprovalSignal
    from sentimentops.core.vocabulary import (
        FINAL_PLAN_STATUSES,
        ApprovalStatus,
        PlanStatus,
        StepStatus,
    )
    from sentimentops.tools.catalogue import TOOLS
    from sentimentops.workflows.activities import PlanActivities, PolicyActivities
    from sentimentops.workflows.schemas import (
        STEP_REFERENCE,
        AmendPlan,
        CloseApproval,
        CreateApproval,
        Plan,
        PlanExecutionInput,
        PlanFinished,
        PlanProgress,
        PlanStarted,
        PlanStep,
        StepState,
        ToolCall,
        ToolCallRequest,
        WorkflowEvent,
        plan_hash,
    )

# Bookkeeping activities (policy, approvals, audit) are quick; their retries ride out a
# restarting OPA or database, and a denial is an answer, never retried.
_QUICK_TIMEOUT = timedelta(seconds=30)
_QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)

FINAL = FINAL_PLAN_STATUSES
_IN_PROGRESS = (
    StepStatus.WAITING_TIMER,
    StepStatus.CHECKING,
    StepStatus.WAITING_APPROVAL,
    StepStatus.RUNNING,
)
# Plans started from this version on record their start and end through the typed
# plan_started/plan_finished activities (the registry's one writer); older histories keep the
# record_event calls they made (workflow.patched keeps both replayable).
TYPED_PLAN_REGISTRY = "typed-plan-registry"
# Plans started from this version on tell policy their hash, who asked for them and the
# approvals they received, so that one human approval of an agent's plan lets its later steps
# run (policies/rego/sentimentops/tools.rego); older histories asked without that context.
AGENT_PLAN_APPROVAL = "agent-plan-approval"


class StepStopped(Exception):
    """A step ended the plan (denied, rejected, expired, failed, gate_failed)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def resolve_references(value: Any, results: dict[int, dict[str, Any]]) -> Any:
    """Replace "${steps.N.field}" values by earlier results; a missing one is an error."""
    if isinstance(value, str):
        match = STEP_REFERENCE.match(value)
        if match is None:
            return value
        index, field = int(match.group(1)), match.group(2)
        if index not in results or field not in results[index]:
            raise ValueError(f"{value} refers to a step result that does not exist")
        return results[index][field]
    if isinstance(value, dict):
        return {k: resolve_references(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, results) for v in value]
    return value


def _cancellation(exc: BaseException) -> bool:
    """The workflow's cancellation, as it reaches an awaiting timer (CancelledError) or an
    activity (an ActivityError caused by the cancel)."""
    if isinstance(exc, ActivityError):
        return isinstance(exc.cause, CancelledError)
    return isinstance(exc, asyncio.CancelledError)


@workflow.defn(name="PlanExecution")
class PlanExecutionWorkflow:
    def __init__(self) -> None:
        self._plan: Plan | None = None
        self._hash = ""
        self._status = PlanStatus.RUNNING
        self._message = ""
        self._current: int | None = None
        self._steps: list[StepState] = []
        self._decisions: dict[str, ApprovalSignal] = {}
        self._waiting_for: str | None = None
        self._in_fallback = False
        self._ignored: list[str] = []
        # Every approval this run received, with the hash it was given for: policy counts only
        # those of the current hash, so an amendment needs a new one.
        self._plan_approvals: list[dict[str, str]] = []

    @property
    def _active_plan(self) -> Plan:
        if self._plan is None:
            raise RuntimeError("the plan is set when the run starts")
        return self._plan

    # --- queries and signals ---------------------------------------------------------------

    @workflow.query
    def progress(self) -> PlanProgress:
        plan = self._plan
        return PlanProgress(
            workflow_id=workflow.info().workflow_id,
            plan_hash=self._hash,
            tenant=plan.tenant if plan else "",
            proposer=plan.proposer.subject if plan else "",
            status=self._status,
            current_step=self._current,
            message=self._message,
            steps=self._steps,
        )

    @workflow.query
    def plan(self) -> Plan | None:
        return self._plan

    @workflow.signal(name=APPROVAL_SIGNAL)
    def approval(self, signal: ApprovalSignal) -> None:
        """An approver's decision; ignored unless bound to the current hash, step and request."""
        if (
            signal.approval_id != self._waiting_for
            or signal.plan_hash != self._hash
            or signal.step_index != self._current
        ):
            self._ignored.append(signal.approval_id)
            return
        self._decisions[signal.approval_id] = signal

    @workflow.signal
    def amend(self, amendment: AmendPlan) -> None:
        """Replace the steps that have not started; approvals of the old plan stop counting."""
        if self._plan is None or self._in_fallback or self._status in FINAL:
            return
        started = [
            s.index for s in self._steps if s.fallback_of is None and s.status != StepStatus.PENDING
        ]
        keep = started[-1] + 1 if started else 0
        if self._status == PlanStatus.WAITING_APPROVAL and self._current is not None:
            keep = self._current  # the step waiting for approval has not run: replace it too
        steps = [*self._plan.steps[:keep], *amendment.steps]
        self._plan = self._plan.model_copy(update={"steps": steps})
        self._hash = plan_hash(self._plan)
        self._steps = [
            *self._steps[:keep],
            *(StepState(index=keep + i, tool=s.tool) for i, s in enumerate(amendment.steps)),
        ]
        self._message = f"plan amended by {amendment.amended_by}"

    # --- the run ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PlanExecutionInput) -> PlanProgress:
        self._plan = request.plan
        self._hash = plan_hash(request.plan)
        self._steps = [StepState(index=i, tool=s.tool) for i, s in enumerate(request.plan.steps)]
        started = {
            "plan_hash": self._hash,
            "rationale": request.plan.rationale,
            "tools": [s.tool for s in request.plan.steps],
        }
        if workflow.patched(TYPED_PLAN_REGISTRY):
            await self._quick(
                PlanActivities.plan_started,
                PlanStarted(
                    tenant=request.plan.tenant,
                    tenant_id=request.plan.proposer.tenant_id,
                    proposer=request.plan.proposer.subject,
                    plan_hash=self._hash,
                    rationale=request.plan.rationale,
                    tools=[s.tool for s in request.plan.steps],
                ),
            )
        else:  # histories recorded before the typed activities replay the way they ran
            await self._event("plan.start", "running", started)
        results: dict[int, dict[str, Any]] = {}
        index = 0
        try:
            while index < len(self._plan.steps):
                step = self._plan.steps[index]
                try:
                    await self._run_step(request, self._steps[index], step, results)
                except StepStopped as stop:
                    if stop.status == StepStatus.GATE_FAILED and step.on_gate_failure:
                        await self._fallback(request, index, step.on_gate_failure, results)
                    raise
                index += 1
            self._status, self._message = PlanStatus.COMPLETED, "all steps succeeded"
        except StepStopped as stop:
            self._status, self._message = PlanStatus(stop.status), str(stop)
        except (asyncio.CancelledError, ActivityError) as exc:
            if not _cancellation(exc):
                raise
            # Cancelled through the API or CLI: close the approval it waited for, record the
            # end, and finish as cancelled in Temporal too (cleanup activities still run).
            self._status, self._message = PlanStatus.CANCELLED, "the plan was cancelled"
            self._current = None
            for state in self._steps:
                if state.status in _IN_PROGRESS:
                    state.status = StepStatus.CANCELLED
            if self._waiting_for is not None:
                await self._close_approval(self._waiting_for, ApprovalStatus.CANCELLED)
                self._waiting_for = None
            await self._finish_event()
            raise asyncio.CancelledError(self._message) from exc
        self._current = None
        await self._finish_event()
        return self.progress()

    async def _finish_event(self) -> None:
        if workflow.patched(TYPED_PLAN_REGISTRY):
            await self._quick(
                PlanActivities.plan_finished,
                PlanFinished(
                    tenant=self._active_plan.tenant,
                    proposer=self._active_plan.proposer.subject,
                    plan_hash=self._hash,
                    status=self._status,
                    message=self._message,
                ),
            )
            return
        finished = {"plan_hash": self._hash, "message": self._message}
        await self._event("plan.finish", self._status, finished)

    async def _quick(self, activity: Any, argument: Any) -> None:
        await workflow.execute_activity_method(
            activity, argument, start_to_close_timeout=_QUICK_TIMEOUT, retry_policy=_QUICK_RETRY
        )

    async def _close_approval(self, approval_id: str, status: str) -> None:
        await workflow.execute_activity_method(
            PlanActivities.close_approval,
            CloseApproval(approval_id=approval_id, status=status, actor="system:workflow"),
            start_to_close_timeout=_QUICK_TIMEOUT,
            retry_policy=_QUICK_RETRY,
        )

    async def _fallback(
        self,
        request: PlanExecutionInput,
        failed: int,
        steps: list[PlanStep],
        results: dict[int, dict[str, Any]],
    ) -> None:
        self._in_fallback = True
        for step in steps:
            state = StepState(index=len(self._steps), tool=step.tool, fallback_of=failed)
            self._steps.append(state)
            try:
                await self._run_step(request, state, step, results)
            except StepStopped:
                break  # the plan already stops; the fallback's own failure is in its state

    async def _event(self, action: str, outcome: str, details: dict[str, Any]) -> None:
        await workflow.execute_activity_method(
            PlanActivities.record_event,
            WorkflowEvent(
                actor=self._active_plan.proposer.subject,
                tenant=self._active_plan.tenant,
                action=action,
                outcome=outcome,
                details=details,
            ),
            start_to_close_timeout=_QUICK_TIMEOUT,
            retry_policy=_QUICK_RETRY,
        )

    async def _run_step(
        self,
        request: PlanExecutionInput,
        state: StepState,
        step: PlanStep,
        results: dict[int, dict[str, Any]],
    ) -> None:
        self._current = state.index
        if step.delay_seconds > 0:
            state.status = StepStatus.WAITING_TIMER
            await workflow.sleep(timedelta(seconds=step.delay_seconds))
        while True:
            try:
                params = resolve_references(step.params, results)
            except ValueError as exc:
                state.status, state.error = StepStatus.FAILED, str(exc)
                raise StepStopped(
                    StepStatus.FAILED, f"step {state.index} ({step.tool}): {exc}"
                ) from exc
            state.params = params
            state.status = StepStatus.CHECKING
            check = await workflow.execute_activity_method(
                PolicyActivities.check_policy,
                ToolCallRequest(
                    principal=self._active_plan.proposer,
                    tenant=self._active_plan.tenant,
                    tool=step.tool,
                    params=params,
                    context=self._policy_context(),
                ),
                start_to_close_timeout=_QUICK_TIMEOUT,
                retry_policy=_QUICK_RETRY,
            )
            decision = check.decision
            state.policy_reasons = decision.reasons
            if not decision.allow:
                state.status = StepStatus.DENIED
                raise StepStopped(
                    "denied",
                    f"step {state.index} ({step.tool}) denied by policy: "
                    + "; ".join(decision.reasons),
                )
            if not decision.needs_approval:
                break
            outcome = await self._await_approval(state, step, params, decision.reasons)
            if outcome == "amended":
                # The plan changed while waiting: ask policy again about the new step.
                step = self._active_plan.steps[state.index]
                state = self._steps[state.index]
                continue
            if outcome != "approved":
                state.status = outcome
                raise StepStopped(outcome, f"step {state.index} ({step.tool}) {outcome}")
            break
        await self._execute(request, state, step, params, results)

    def _policy_context(self) -> dict[str, Any]:
        """What policy needs to know about the plan itself (empty in older histories)."""
        if not workflow.patched(AGENT_PLAN_APPROVAL):
            return {}
        return {
            "plan_hash": self._hash,
            "plan_approved_by": list(self._plan_approvals),
            "requested_by": self._active_plan.requested_by,
        }

    async def _await_approval(
        self, state: StepState, step: PlanStep, params: dict[str, Any], reasons: list[str]
    ) -> str:
        plan = self._active_plan
        ticket = await workflow.execute_activity_method(
            PlanActivities.create_approval,
            CreateApproval(
                tenant=plan.tenant,
                tenant_id=plan.proposer.tenant_id,
                workflow_id=workflow.info().workflow_id,
                plan_hash=self._hash,
                step_index=state.index,
                tool=step.tool,
                params=params,
                requester=plan.proposer.subject,
                requester_kind=plan.proposer.kind,
                requested_by=plan.requested_by,
                rationale=step.rationale or plan.rationale,
                reasons=reasons,
                ttl_seconds=plan.approval_timeout_seconds,
            ),
            start_to_close_timeout=_QUICK_TIMEOUT,
            retry_policy=_QUICK_RETRY,
        )
        state.status, state.approval_id = StepStatus.WAITING_APPROVAL, ticket.approval_id
        self._status, self._waiting_for = PlanStatus.WAITING_APPROVAL, ticket.approval_id
        self._message = f"step {state.index} ({step.tool}) waits for approval {ticket.approval_id}"
        bound_hash = self._hash
        try:
            await workflow.wait_condition(
                lambda: ticket.approval_id in self._decisions or self._hash != bound_hash,
                timeout=timedelta(seconds=plan.approval_timeout_seconds),
            )
        except TimeoutError:
            outcome = "expired"
        else:
            if self._hash != bound_hash:
                outcome = "amended"
            else:
                decision = self._decisions[ticket.approval_id]
                outcome = "approved" if decision.approved else "rejected"
                state.approved_by = decision.decided_by
                if decision.approved:
                    approval = {"approver": decision.decided_by, "plan_hash": bound_hash}
                    self._plan_approvals.append(approval)
        self._waiting_for = None
        self._status = PlanStatus.RUNNING
        if outcome in ("expired", "amended"):
            status = "expired" if outcome == "expired" else "superseded"
            await self._close_approval(ticket.approval_id, status)
        return outcome

    async def _execute(
        self,
        request: PlanExecutionInput,
        state: StepState,
        step: PlanStep,
        params: dict[str, Any],
        results: dict[int, dict[str, Any]],
    ) -> None:
        spec = TOOLS.get(step.tool)
        if spec is None:
            state.status, state.error = StepStatus.FAILED, f"no tool named {step.tool}"
            raise StepStopped(StepStatus.FAILED, f"step {state.index}: no tool named {step.tool}")
        info = workflow.info()
        # The key changes with the step's content, so an amended step is new work; a retried
        # or replayed step is the same work and returns its first result.
        key = f"{info.workflow_id}:{state.index}:{plan_hash(self._active_plan)[:12]}"
        queue = {
            "default": request.task_queue,
            "training": request.training_task_queue,
            "gpu": request.gpu_task_queue or request.training_task_queue,
        }[spec.queue_for(params)]
        state.status = StepStatus.RUNNING
        try:
            result = await workflow.execute_activity(
                spec.name,
                ToolCall(
                    tool=spec.name,
                    tenant=self._active_plan.tenant,
                    tenant_id=self._active_plan.proposer.tenant_id,
                    actor=self._active_plan.proposer.subject,
                    params=params,
                    idempotency_key=key,
                    workflow_id=info.workflow_id,
                ),
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=spec.timeout_seconds),
                heartbeat_timeout=(
                    timedelta(seconds=request.training_heartbeat_seconds)
                    if spec.heartbeat
                    else None
                ),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=60),
                    maximum_attempts=spec.max_attempts,
                ),
                result_type=dict,
            )
        except ActivityError as exc:
            if _cancellation(exc):
                raise  # the plan was cancelled: run() ends it
            cause = exc.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            state.status, state.error = StepStatus.FAILED, message
            stopped = f"step {state.index} ({step.tool}) failed: {message}"
            raise StepStopped(StepStatus.FAILED, stopped) from exc
        results[state.index] = result
        state.result = result
        if step.gate and result.get("passed") is False:
            state.status = StepStatus.GATE_FAILED
            reasons = "; ".join(str(r) for r in result.get("reasons", []))
            raise StepStopped(
                StepStatus.GATE_FAILED, f"step {state.index} ({step.tool}) gate: {reasons}"
            )
        state.status = StepStatus.SUCCEEDED
