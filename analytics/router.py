"""/api/v1/analytics: thin handlers, one flow call each (the flow checks the named permission
first; analytics/permissions.py). Every input is bounded here or, before any query runs, by
analytics/service.py (422 either way): windows of at most 90 days, series of at most 2000
buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from sentimentops.analytics import flows
from sentimentops.analytics.schemas import (
    DEFAULT_AB_WINDOW,
    MAX_WINDOW_DAYS,
    WINDOW_PATTERN,
    AbOut,
    AccuracyOut,
    Bucket,
    ConfusionOut,
    DriftOut,
    VolumeOut,
)
from sentimentops.core.http.deps import FlowDep
from sentimentops.core.vocabulary import Task
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], dependencies=[AUTHENTICATED])

# Model versions are printable names of at most 64 characters (predictions.model_version).
Version = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="one version"),
]
Since = Annotated[
    datetime | None, Query(description="start (inclusive); default: 30 days before until")
]
Until = Annotated[datetime | None, Query(description="end (exclusive); default: now")]


@router.get("/confusion", operation_id="analytics-confusion")
async def confusion(
    task: Task,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    version: Version = None,
    since: Since = None,
    until: Until = None,
) -> ConfusionOut:
    """Confusion matrix and per-class precision, recall and F1 per model version, over the
    predictions made in [since, until) whose right label is known: from resolved labeling
    items (same text) and from feedback (the prediction it was linked to). Roles: analyst,
    ml_engineer, tenant_admin (as for every analytics route)."""
    return await flows.confusion_flow(
        ctx, principal, task=task, version=version, since=since, until=until
    )


@router.get("/accuracy", operation_id="analytics-accuracy")
async def accuracy(
    task: Task,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    bucket: Bucket = "day",
    version: Version = None,
    since: Since = None,
    until: Until = None,
) -> AccuracyOut:
    """Accuracy on labelled predictions per model version and hour or day, with 95 % Wilson
    intervals."""
    return await flows.accuracy_flow(
        ctx, principal, task=task, version=version, bucket=bucket, since=since, until=until
    )


@router.get("/volume", operation_id="analytics-volume")
async def volume(
    principal: CurrentPrincipal,
    ctx: FlowDep,
    task: Task | None = None,
    bucket: Bucket = "hour",
    since: Since = None,
    until: Until = None,
) -> VolumeOut:
    """Predictions and their label distribution per task, model version and alias (route) per
    hour or day, and the texts scoring failed on."""
    return await flows.volume_flow(
        ctx, principal, task=task, bucket=bucket, since=since, until=until
    )


@router.get("/ab", operation_id="analytics-ab")
async def ab(
    task: Task,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    window: Annotated[
        str, Query(pattern=WINDOW_PATTERN, description="hours or days before until: 24h, 7d")
    ] = DEFAULT_AB_WINDOW,
    until: Until = None,
    alpha: Annotated[float, Query(gt=0.0, le=0.2)] = 0.05,
    min_labelled: Annotated[int, Query(ge=1, le=1_000_000)] = 30,
) -> AbOut:
    """Production against the canary (staging alias) on the same window: accuracy on labelled
    predictions with 95 % Wilson intervals and a two-proportion z-test (Fisher's exact test
    for small counts), latency P50/P95 and error rate side by side, and a verdict on accuracy:
    better, worse, no_significant_difference, or not_enough_data (an arm has fewer than
    min_labelled labelled predictions)."""
    return await flows.ab_flow(
        ctx,
        principal,
        task=task,
        window=window,
        until=until,
        alpha=alpha,
        min_labelled=min_labelled,
    )


@router.get("/drift", operation_id="analytics-drift")
async def drift(
    task: Task,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    days: Annotated[int, Query(ge=1, le=MAX_WINDOW_DAYS)] = 14,
    reference_days: Annotated[int, Query(ge=1, le=MAX_WINDOW_DAYS)] = 7,
    min_volume: Annotated[int, Query(ge=1, le=1_000_000)] = 100,
) -> DriftOut:
    """Per UTC day of the last `days` (today so far included): PSI of scores and text lengths
    (the detect_drift tool's bins) and KS of scores against the `reference_days` before them."""
    return await flows.drift_flow(
        ctx,
        principal,
        task=task,
        days=days,
        reference_days=reference_days,
        min_volume=min_volume,
    )
