"""Determinism: histories recorded from released code replay against today's workflow code.

tests/workflows/histories/ holds at least one recorded history per workflow type the worker
registers (sentimentops.workflows.worker.WORKFLOWS). A change to a workflow that would break
the workflows already running in Temporal fails here; a new workflow type without a recorded
history fails `test_every_workflow_type_has_a_recorded_history`.

Each file is `WorkflowHistory.to_json()` of one run, named after the workflow id it ran under
(replay needs the same id: a sentry's child workflows are named after it). Record missing ones
with `pytest tests/workflows/record_histories.py` (see there) and commit them; a recorded
history is never re-recorded, since it stands for what released code wrote."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from sentimentops.workflows.worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))


def _replayer() -> Replayer:
    """The workflows exactly as the platform worker registers them."""
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


async def _load(path: Path) -> WorkflowHistory:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    return WorkflowHistory.from_json(path.stem, text)


def _workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def _registered_name(cls: type) -> str:
    name = workflow._Definition.must_from_class(cls).name
    assert name is not None, f"{cls.__name__} is a dynamic workflow: it has no type name"
    return name


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = await _load(path)
    assert len(history.events) > 1, f"{path.name} holds no events"
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_every_workflow_type_has_a_recorded_history() -> None:
    registered = {_registered_name(cls) for cls in WORKFLOWS}
    recorded = {_workflow_type(await _load(path)) for path in RECORDED}
    missing = registered - recorded
    assert not missing, (
        f"no recorded history of {sorted(missing)}: add a recorder for it to "
        "tests/workflows/record_histories.py, run it and commit the file it writes"
    )
    assert recorded <= registered, f"histories of unregistered workflows: {recorded - registered}"
