"""Record the workflow histories that tests/workflows/test_replay.py replays.

Not part of the suite (the name does not match test_*.py); run it on purpose:

    .venv/bin/pytest tests/workflows/record_histories.py -p no:cacheprovider

Each recorder runs one real workflow on the test platform (Temporal dev server, OPA, MLflow,
the database), checks that today's code replays it, and writes tests/workflows/histories/
<workflow id>.json. A history that exists is never overwritten (the recorder is skipped): it
stands for what released code wrote, and must keep replaying. After a deliberate, versioned
change to a workflow (`workflow.patched`), add a recorder for the new path under a new name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session
from temporalio.client import WorkflowFailureError, WorkflowHistory

from sentimentops.core.policy import Principal
from sentimentops.workflows.client import amend_plan, cancel_workflow, start_plan
from sentimentops.workflows.policy_check import PolicyCheckWorkflow
from sentimentops.workflows.schemas import AmendPlan, PlanProgress, PlanStep, ToolCallRequest
from sentimentops.workflows.sentry import DeploymentSentryWorkflow, SentryInput
from tests.workflows.conftest import TENANT, Platform, make_plan
from tests.workflows.test_feedback_gate import add_feedback, answers
from tests.workflows.test_plans import _approve
from tests.workflows.test_replay import HISTORIES, _replayer
from tests.workflows.test_sentry import TASK, _traffic, _two_production_versions

Recorder = Callable[[Platform, Session, str], Awaitable[WorkflowHistory]]


async def _record(name: str, platform: Platform, session: Session, run: Recorder) -> None:
    path = HISTORIES / f"{name}.json"
    history = await run(platform, session, name)
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    HISTORIES.mkdir(exist_ok=True)
    await asyncio.to_thread(path.write_text, history.to_json(), encoding="utf-8")


async def wait_for_new_approval(
    platform: Platform, workflow_id: str, step: int, old: str | None, *, within: float = 60.0
) -> PlanProgress:
    """Poll until step `step` waits on an approval other than `old` (an amendment supersedes
    the old request and opens a new one); fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        progress = await platform.wait_for(workflow_id, {"waiting_approval"}, within=within)
        if progress.steps[step].approval_id not in (None, old):
            return progress
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"step {step} of {workflow_id} still waits on approval {old} after {within} s"
    )


async def _plan_amend_approve(platform: Platform, session: Session, name: str) -> WorkflowHistory:
    """A plan amended while it waits for approval, then approved and completed."""
    version = platform.register_version()
    plan = make_plan(
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.1}),
        PlanStep(tool="promote_model", params={"task": "sarcasm", "target": "production"}),
    )
    workflow_id = await start_plan(platform.client, platform.settings, plan, workflow_id=name)
    first = await platform.wait_for(workflow_id, {"waiting_approval"})
    step = PlanStep(
        tool="promote_model", params={"task": "sarcasm", "target": "production", "version": version}
    )
    await amend_plan(platform.client, workflow_id, AmendPlan(steps=[step], amended_by="alice"))
    waiting = await wait_for_new_approval(platform, workflow_id, 1, first.steps[1].approval_id)
    approval_id = waiting.steps[1].approval_id
    assert approval_id is not None
    await _approve(platform, session, approval_id)
    await platform.wait_for(workflow_id, {"completed"})
    return await platform.client.get_workflow_handle(workflow_id).fetch_history()


async def _plan_cancel(platform: Platform, session: Session, name: str) -> WorkflowHistory:
    """A plan cancelled while it waits for approval."""
    version = platform.register_version()
    plan = make_plan(
        PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": version},
        )
    )
    workflow_id = await start_plan(platform.client, platform.settings, plan, workflow_id=name)
    await platform.wait_for(workflow_id, {"waiting_approval"})
    await cancel_workflow(platform.client, workflow_id)
    handle = platform.client.get_workflow_handle(workflow_id)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return await handle.fetch_history()


async def _sentry_rollback(platform: Platform, session: Session, name: str) -> WorkflowHistory:
    """A sentry's first run: one check (a child plan) breaches the latency gate and rolls
    production back, a timer, then continue-as-new (checks_per_run=1)."""
    first, second = _two_production_versions(platform)
    _traffic(platform, second, latency_ms=900.0)
    handle = await platform.client.start_workflow(
        DeploymentSentryWorkflow.run,
        SentryInput(
            tenant=platform.tenant.slug,
            task=TASK,
            interval_seconds=1,
            window_seconds=600,
            checks_per_run=1,
            max_checks=1,
            task_queue=platform.settings.temporal_task_queue,
            training_task_queue=platform.settings.training_task_queue,
        ),
        id=name,
        task_queue=platform.settings.temporal_task_queue,
    )
    status = await asyncio.wait_for(handle.result(), timeout=120)  # follows continue-as-new
    assert status.checks_done == 1, status
    assert platform.alias("production") == first  # rolled back (the new run counts afresh)
    first_run = platform.client.get_workflow_handle(name, run_id=handle.first_execution_run_id)
    return await first_run.fetch_history()


async def _sentry_feedback_rollback(
    platform: Platform, session: Session, name: str
) -> WorkflowHistory:
    """A sentry's check with the feedback gate (patch "sentry-feedback-gate"): service metrics
    and drift pass, half of production's answers are wrong by feedback, and the check rolls
    production back."""
    first, second = _two_production_versions(platform)
    _traffic(platform, second, latency_ms=3.0)
    add_feedback(
        platform.sessions,
        platform.tenant,
        answers(second, right=20, wrong=20),
        ago=timedelta(minutes=5),
    )
    handle = await platform.client.start_workflow(
        DeploymentSentryWorkflow.run,
        SentryInput(
            tenant=platform.tenant.slug,
            tenant_id=platform.tenant.id,
            task=TASK,
            interval_seconds=1,
            window_seconds=600,
            checks_per_run=1,
            max_checks=1,
            task_queue=platform.settings.temporal_task_queue,
            training_task_queue=platform.settings.training_task_queue,
        ),
        id=name,
        task_queue=platform.settings.temporal_task_queue,
    )
    status = await asyncio.wait_for(handle.result(), timeout=120)  # follows continue-as-new
    assert status.checks_done == 1, status
    assert platform.alias("production") == first
    first_run = platform.client.get_workflow_handle(name, run_id=handle.first_execution_run_id)
    return await first_run.fetch_history()


async def _policy_check_allowed(platform: Platform, session: Session, name: str) -> WorkflowHistory:
    """The policy spine on its own: an allowed call, audited."""
    request = ToolCallRequest(
        principal=Principal(subject="alice", roles=["ml_engineer"], tenant=TENANT),
        tenant=TENANT,
        tool="train_model",
        params={"family": "tfidf_lr"},
    )
    handle = await platform.client.start_workflow(
        PolicyCheckWorkflow.run, request, id=name, task_queue=platform.settings.temporal_task_queue
    )
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.decision.outcome == "allowed", result
    return await handle.fetch_history()


RECORDERS: dict[str, Recorder] = {
    "plan_amend_approve": _plan_amend_approve,
    "plan_cancel": _plan_cancel,
    "sentry_rollback": _sentry_rollback,
    "sentry_feedback_rollback": _sentry_feedback_rollback,
    "policy_check_allowed": _policy_check_allowed,
}


def _recordings() -> list[object]:
    """One per recorder; skipped (before any service starts) where its file exists."""
    reason = "{}.json exists (recorded histories are never re-recorded)"
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                (HISTORIES / f"{name}.json").exists(), reason=reason.format(name)
            ),
        )
        for name in RECORDERS
    ]


@pytest.mark.parametrize("name", _recordings())
async def test_record(platform: Platform, session: Session, name: str) -> None:
    await _record(name, platform, session, RECORDERS[name])
