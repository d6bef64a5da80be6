"""Determinism: recorded plan histories replay against today's workflow code.

A change to PlanExecutionWorkflow that would break running workflows fails here. To record
a new history after a deliberate, versioned change: SENTIMENTOPS_RECORD_HISTORIES=1 pytest
tests/workflows/test_replay.py (then commit tests/workflows/histories/)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from sentimentops.workflows.client import amend_plan, cancel_workflow
from sentimentops.workflows.plan import PlanExecutionWorkflow
from sentimentops.workflows.schemas import AmendPlan, PlanStep
from tests.workflows.conftest import Platform, make_plan
from tests.workflows.test_plans import _approve

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    return Replayer(workflows=[PlanExecutionWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    history = WorkflowHistory.from_json(path.stem, text)
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_there_is_a_recorded_history() -> None:
    assert list(HISTORIES.glob("*.json")), "record one: SENTIMENTOPS_RECORD_HISTORIES=1"


async def test_a_fresh_history_with_amendment_and_approval_replays(
    platform: Platform, session: Session
) -> None:
    version = platform.register_version()
    plan = make_plan(
        PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.1}),
        PlanStep(tool="promote_model", params={"task": "sarcasm", "target": "production"}),
    )
    workflow_id = await platform.start(plan)
    first = await platform.wait_for(workflow_id, {"waiting_approval"})
    step = PlanStep(tool="promote_model", params={"task": "sarcasm", "target": "production",
                                                  "version": version})  # fmt: skip
    await amend_plan(platform.client, workflow_id, AmendPlan(steps=[step], amended_by="alice"))
    while True:
        waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
        if waiting.steps[1].approval_id not in (None, first.steps[1].approval_id):
            break
    assert waiting.steps[1].approval_id is not None
    await _approve(platform, session, waiting.steps[1].approval_id)
    await platform.wait_for(workflow_id, {"completed"})

    history = await platform.client.get_workflow_handle(workflow_id).fetch_history()
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    if os.environ.get("SENTIMENTOPS_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / "plan_amend_approve.json").write_text(history.to_json(), encoding="utf-8")


async def test_a_fresh_history_with_cancellation_replays(platform: Platform) -> None:
    version = platform.register_version()
    plan = make_plan(PlanStep(tool="promote_model", params={
        "task": "sarcasm", "target": "production", "version": version}))  # fmt: skip
    workflow_id = await platform.start(plan)
    await platform.wait_for(workflow_id, {"waiting_approval"})
    await cancel_workflow(platform.client, workflow_id)
    handle = platform.client.get_workflow_handle(workflow_id)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    history = await handle.fetch_history()
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    if os.environ.get("SENTIMENTOPS_RECORD_HISTORIES"):
        (HISTORIES / "plan_cancel.json").write_text(history.to_json(), encoding="utf-8")
