"""Analytics flows: one question each, for the API and any later entry point (a soak gate, a
CLI). Each checks the named permission first, bounds its window, then reads in a read session
(on SQLite it never takes the write lock, so a long aggregate never blocks scoring's log). The
bucket count is checked by the service, inside the read, before its query runs."""

from __future__ import annotations

from datetime import datetime

from sentimentops.analytics import permissions, service
from sentimentops.analytics.schemas import (
    DEFAULT_WINDOW,
    AbOut,
    AccuracyOut,
    Bucket,
    ConfusionOut,
    DriftOut,
    VolumeOut,
)
from sentimentops.core.flows import FlowContext
from sentimentops.identity.keys import utcnow
from sentimentops.identity.principal import Principal


async def confusion_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    task: str,
    version: str | None,
    since: datetime | None,
    until: datetime | None,
) -> ConfusionOut:
    permissions.can_read_analytics(principal)
    start, end = service.resolve_window(
        since=since, until=until, now=utcnow(), default=DEFAULT_WINDOW
    )
    return await ctx.read(
        lambda session: service.confusion(
            session,
            tenant_id=principal.tenant_id,
            task=task,
            version=version,
            since=start,
            until=end,
        )
    )


async def accuracy_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    task: str,
    version: str | None,
    bucket: Bucket,
    since: datetime | None,
    until: datetime | None,
) -> AccuracyOut:
    permissions.can_read_analytics(principal)
    start, end = service.resolve_window(
        since=since, until=until, now=utcnow(), default=DEFAULT_WINDOW
    )
    return await ctx.read(
        lambda session: service.accuracy(
            session,
            tenant_id=principal.tenant_id,
            task=task,
            version=version,
            bucket=bucket,
            since=start,
            until=end,
        )
    )


async def volume_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    task: str | None,
    bucket: Bucket,
    since: datetime | None,
    until: datetime | None,
) -> VolumeOut:
    permissions.can_read_analytics(principal)
    start, end = service.resolve_window(
        since=since, until=until, now=utcnow(), default=DEFAULT_WINDOW
    )
    return await ctx.read(
        lambda session: service.volume(
            session, tenant_id=principal.tenant_id, task=task, bucket=bucket, since=start, until=end
        )
    )


async def ab_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    task: str,
    window: str,
    until: datetime | None,
    alpha: float,
    min_labelled: int,
) -> AbOut:
    permissions.can_read_analytics(principal)
    length = service.parse_window(window)
    start, end = service.resolve_window(since=None, until=until, now=utcnow(), default=length)
    return await ctx.read(
        lambda session: service.ab(
            session,
            tenant_id=principal.tenant_id,
            task=task,
            since=start,
            until=end,
            alpha=alpha,
            min_labelled=min_labelled,
        )
    )


async def drift_flow(
    ctx: FlowContext,
    principal: Principal,
    *,
    task: str,
    days: int,
    reference_days: int,
    min_volume: int,
) -> DriftOut:
    permissions.can_read_analytics(principal)
    now = utcnow()
    return await ctx.read(
        lambda session: service.drift(
            session,
            tenant_id=principal.tenant_id,
            task=task,
            days=days,
            reference_days=reference_days,
            min_volume=min_volume,
            now=now,
        )
    )
