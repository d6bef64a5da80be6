"""evaluate_model: a version's evaluation metrics, checked against the task's quality gates."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.core.model_registry import resolve_version
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Task
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec

GATES_PACKAGE = "sentimentops.gates"


class EvaluateModelInput(ToolInput):
    task: Task
    version: str | None = Field(default=None, description="registry version (None: candidate)")


class EvaluateModelOutput(ToolOutput):
    model_name: str
    version: str
    metrics: dict[str, float]
    passed: bool
    reasons: list[str]


async def evaluate_model(ctx: ToolContext, params: EvaluateModelInput) -> EvaluateModelOutput:
    """Read the held-out evaluation of a registered model version (accuracy, macro-F1, ROC-AUC,
    calibration, robustness flip rates, slices; computed at training time) and check it
    against the task's quality gates (metric floors, robustness and latency bounds).
    `passed` is false with the reasons when a gate fails. Read-only."""
    registry = ctx.registry()
    version = await asyncio.to_thread(
        resolve_version, registry, params.task, params.version, CANDIDATE_ALIAS
    )
    metrics = await asyncio.to_thread(registry.version_metrics, params.task, version)
    verdict = await ctx.policy.query(
        package=GATES_PACKAGE,
        rule="evaluation",
        input_data={"task": params.task, "candidate": metrics},
    )
    return EvaluateModelOutput(
        model_name=params.task,
        version=version,
        metrics=metrics,
        passed=bool(verdict["passed"]),
        reasons=list(verdict["reasons"]),
    )


SPEC = ToolSpec(
    name="evaluate_model",
    input_model=EvaluateModelInput,
    output_model=EvaluateModelOutput,
    run=evaluate_model,
    timeout_seconds=300,
)
