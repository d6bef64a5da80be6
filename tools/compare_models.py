"""compare_models: candidate against production, through the promotion gates."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.core.model_registry import resolve_version
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Task
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.tools.evaluate_model import GATES_PACKAGE


class CompareModelsInput(ToolInput):
    task: Task
    candidate_version: str | None = Field(default=None, description="None: the candidate alias")
    baseline_alias: str = Field(default="production", pattern="^(production|staging)$")


class CompareModelsOutput(ToolOutput):
    model_name: str
    candidate_version: str
    baseline_version: str | None
    candidate_metrics: dict[str, float]
    baseline_metrics: dict[str, float] | None
    passed: bool
    reasons: list[str]


async def compare_models(ctx: ToolContext, params: CompareModelsInput) -> CompareModelsOutput:
    """Compare a candidate version with the version now in production (or staging): the
    candidate must pass the task's metric floors, robustness and latency bounds, and must not
    regress beyond the allowed tolerance on any gated metric. With no production version yet,
    only the candidate's own gates apply. `passed` and `reasons` give the verdict. Read-only."""
    registry = ctx.registry()
    candidate = await asyncio.to_thread(
        resolve_version, registry, params.task, params.candidate_version, CANDIDATE_ALIAS
    )
    candidate_metrics = await asyncio.to_thread(registry.version_metrics, params.task, candidate)
    found = await asyncio.to_thread(registry.version_for_alias, params.task, params.baseline_alias)
    baseline = found.version if found is not None else None
    baseline_metrics = (
        None
        if baseline is None
        else await asyncio.to_thread(registry.version_metrics, params.task, baseline)
    )
    verdict = await ctx.policy.query(
        package=GATES_PACKAGE,
        rule="promotion",
        input_data={
            "task": params.task,
            "candidate": candidate_metrics,
            "production": baseline_metrics,
        },
    )
    return CompareModelsOutput(
        model_name=params.task,
        candidate_version=candidate,
        baseline_version=baseline,
        candidate_metrics=candidate_metrics,
        baseline_metrics=baseline_metrics,
        passed=bool(verdict["passed"]),
        reasons=list(verdict["reasons"]),
    )


SPEC = ToolSpec(
    name="compare_models",
    input_model=CompareModelsInput,
    output_model=CompareModelsOutput,
    run=compare_models,
    timeout_seconds=300,
)
