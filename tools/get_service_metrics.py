"""get_service_metrics: latency, volume, error rate and label distribution from the prediction
log and the failure log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import Field
from sqlalchemy import func, select

from sentimentops.core.vocabulary import Alias, Task
from sentimentops.inference.models import PredictionRecord, ScoringFailure
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.tools.evaluate_model import GATES_PACKAGE


class GetServiceMetricsInput(ToolInput):
    task: Task
    window_seconds: float = Field(default=3600.0, gt=0, le=90 * 86_400)
    alias: Alias | None = Field(
        default=None, description="only predictions answered by this alias (None: all)"
    )


class GetServiceMetricsOutput(ToolOutput):
    task: str
    window_seconds: float
    volume: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    # Texts the service failed to score (no model, runtime error) over all texts asked for;
    # None without traffic. Client errors (invalid input, quotas) do not count.
    failed: int
    error_rate: float | None
    label_distribution: dict[str, float]
    versions: dict[str, int]
    passed: bool
    reasons: list[str]


async def get_service_metrics(
    ctx: ToolContext, params: GetServiceMetricsInput
) -> GetServiceMetricsOutput:
    """Service metrics of this tenant's scoring traffic for a task over the last
    `window_seconds` (optionally only the canary's `staging` answers): volume, P50 and P95
    latency, error rate, predicted label distribution and versions that answered, plus the
    verdict of the soak gates (`passed`, `reasons`) used before promoting a canary. Read-only."""

    def work() -> tuple[list[float], dict[str, int], dict[str, int], int]:
        since = datetime.now(UTC) - timedelta(seconds=params.window_seconds)
        with ctx.sessions() as session:
            tenant_id = ctx.tenant_id(session)
            query = select(
                PredictionRecord.latency_ms, PredictionRecord.label, PredictionRecord.model_version
            ).where(
                PredictionRecord.tenant_id == tenant_id,
                PredictionRecord.task == params.task,
                PredictionRecord.created_at >= since,
            )
            failures = select(func.coalesce(func.sum(ScoringFailure.texts), 0)).where(
                ScoringFailure.tenant_id == tenant_id,
                ScoringFailure.task == params.task,
                ScoringFailure.created_at >= since,
            )
            if params.alias is not None:
                query = query.where(PredictionRecord.model_alias == params.alias)
                # A request that found no model at all failed for every alias.
                failures = failures.where(
                    (ScoringFailure.model_alias == params.alias)
                    | ScoringFailure.model_alias.is_(None)
                )
            rows = session.execute(query).all()
            failed = int(session.execute(failures).scalar_one())
        latencies = [float(r[0]) for r in rows]
        labels: dict[str, int] = {}
        versions: dict[str, int] = {}
        for _latency, label, version in rows:
            labels[label] = labels.get(label, 0) + 1
            versions[version] = versions.get(version, 0) + 1
        return latencies, labels, versions, failed

    latencies, labels, versions, failed = await asyncio.to_thread(work)
    volume = len(latencies)
    p50 = float(np.percentile(latencies, 50)) if latencies else None
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    error_rate = failed / (volume + failed) if volume + failed else None
    verdict = await ctx.policy.query(
        package=GATES_PACKAGE,
        rule="soak",
        input_data={"volume": volume, "error_rate": error_rate, "latency_p95_ms": p95},
    )
    return GetServiceMetricsOutput(
        task=params.task,
        window_seconds=params.window_seconds,
        volume=volume,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        failed=failed,
        error_rate=error_rate,
        label_distribution={k: v / volume for k, v in sorted(labels.items())},
        versions=versions,
        passed=bool(verdict["passed"]),
        reasons=list(verdict["reasons"]),
    )


SPEC = ToolSpec(
    name="get_service_metrics",
    input_model=GetServiceMetricsInput,
    output_model=GetServiceMetricsOutput,
    run=get_service_metrics,
    timeout_seconds=120,
)
