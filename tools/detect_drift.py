"""detect_drift: population stability of scores, labels and text lengths between two windows."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import Field
from sqlalchemy import select

from sentimentops.core.vocabulary import Task
from sentimentops.inference.models import PredictionRecord
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.tools.evaluate_model import GATES_PACKAGE

# Empty bins would make PSI infinite; a small floor keeps it finite and comparable.
_EPSILON = 1e-4
_SCORE_EDGES = np.linspace(0.0, 1.0, 11)
_LENGTH_EDGES = np.array([0, 20, 40, 60, 80, 120, 200, 400, 1000, 5000, 10**9], dtype=float)


class DetectDriftInput(ToolInput):
    task: Task
    window_seconds: float = Field(default=3600.0, gt=0, le=30 * 86_400)
    reference_seconds: float = Field(
        default=7 * 86_400.0, gt=0, le=365 * 86_400, description="the window before it"
    )


class DetectDriftOutput(ToolOutput):
    task: str
    current_volume: int
    reference_volume: int
    psi_score: float | None
    psi_label: float | None
    psi_length: float | None
    drifted: bool
    # The gate verdict plan steps read (`gate: true`): not drifted. The sentry's check plan
    # rolls back on a drift breach through it.
    passed: bool
    reasons: list[str]
    # False when a window had fewer than `min_volume` predictions: PSI is then noise, and
    # `drifted` false means "cannot tell", not "no drift".
    enough_traffic: bool = True
    min_volume: int = 0


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two distributions over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _shares(values: Sequence[float], edges: np.ndarray) -> list[float]:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=edges)
    return [float(c) / max(1, len(values)) for c in counts]


def _label_shares(labels: Sequence[str], vocabulary: list[str]) -> list[float]:
    return [sum(1 for x in labels if x == v) / max(1, len(labels)) for v in vocabulary]


async def detect_drift(ctx: ToolContext, params: DetectDriftInput) -> DetectDriftOutput:
    """Detect drift in this tenant's scoring traffic for a task: the population stability
    index (PSI) of prediction confidence, predicted labels and text length in the last
    `window_seconds` against the `reference_seconds` before it. `drifted` and `reasons` come
    from the drift thresholds of policy. Read-only."""
    now = datetime.now(UTC)
    current_start = now - timedelta(seconds=params.window_seconds)
    reference_start = current_start - timedelta(seconds=params.reference_seconds)

    def work() -> list[tuple[datetime, float, str, int]]:
        with ctx.sessions() as session:
            rows = session.execute(
                select(
                    PredictionRecord.created_at,
                    PredictionRecord.probability,
                    PredictionRecord.label,
                    PredictionRecord.text_chars,
                ).where(
                    PredictionRecord.tenant_id == ctx.tenant_id(session),
                    PredictionRecord.task == params.task,
                    PredictionRecord.created_at >= reference_start,
                )
            ).all()
        return [(r[0], float(r[1]), str(r[2]), int(r[3])) for r in rows]

    rows = await asyncio.to_thread(work)

    def when(value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    current = [r for r in rows if when(r[0]) >= current_start]
    reference = [r for r in rows if when(r[0]) < current_start]
    scores: float | None = None
    labels: float | None = None
    lengths: float | None = None
    if current and reference:
        scores = psi(
            _shares([r[1] for r in reference], _SCORE_EDGES),
            _shares([r[1] for r in current], _SCORE_EDGES),
        )
        vocabulary = sorted({r[2] for r in rows})
        labels = psi(
            _label_shares([r[2] for r in reference], vocabulary),
            _label_shares([r[2] for r in current], vocabulary),
        )
        lengths = psi(
            _shares([float(r[3]) for r in reference], _LENGTH_EDGES),
            _shares([float(r[3]) for r in current], _LENGTH_EDGES),
        )
    verdict = await ctx.policy.query(
        package=GATES_PACKAGE,
        rule="drift",
        input_data={
            "current_volume": len(current),
            "reference_volume": len(reference),
            "psi": {"score": scores, "label": labels, "length": lengths},
        },
    )
    return DetectDriftOutput(
        task=params.task,
        current_volume=len(current),
        reference_volume=len(reference),
        psi_score=scores,
        psi_label=labels,
        psi_length=lengths,
        drifted=bool(verdict["drifted"]),
        passed=not verdict["drifted"],
        reasons=list(verdict["reasons"]),
        enough_traffic=bool(verdict.get("enough_traffic", True)),
        min_volume=int(verdict.get("min_volume", 0)),
    )


SPEC = ToolSpec(
    name="detect_drift",
    input_model=DetectDriftInput,
    output_model=DetectDriftOutput,
    run=detect_drift,
    timeout_seconds=300,
)
