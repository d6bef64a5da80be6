"""evaluate_model: a version's evaluation metrics, checked against the task's quality gates."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.core.vocabulary import Task
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.tools.registry_access import resolve_version, version_metrics

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
    client = ctx.mlflow()
    version = await asyncio.to_thread(
        resolve_version, client, params.task, params.version, "candidate"
    )
    metrics = await asyncio.to_thread(version_metrics, client, params.task, version)
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
