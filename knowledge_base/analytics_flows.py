"""Semantic analytics flows: similar texts and topics over the caller's tenant's scored texts.
The API and the CLI call these; each checks its permission first, refuses a tenant that does not
store prediction texts, does the work off the event loop and audits the query (who, which
tenant, what kind and its parameters; never the query text)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, InvalidInput
from sentimentops.core.flows import FlowContext
from sentimentops.core.vocabulary import AuditOutcome, Role
from sentimentops.identity.models import Tenant
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal
from sentimentops.knowledge_base.analytics import TextAnalytics, Window, count_window, read_window
from sentimentops.knowledge_base.analytics_schemas import (
    SimilarRequest,
    SimilarResults,
    TopicsRequest,
    TopicsResult,
)

# The logged texts are the tenant's customers' own words: the roles that read and curate texts
# for datasets may search them. A viewer sees metrics and plans, not customer content; agents
# never (texts are untrusted input, and no tool needs them).
_TEXT_READERS = (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)


def can_search_texts(principal: Principal) -> None:
    """Searching and grouping the tenant's scored texts."""
    require_role(principal, *_TEXT_READERS)


def _stores_texts(session: Session, tenant_id: str) -> bool:
    query = select(Tenant.store_prediction_texts).where(Tenant.id == tenant_id)
    return bool(session.execute(query).scalar())


def _not_stored(principal: Principal) -> Conflict:
    return Conflict(
        f"prediction texts are not stored for tenant {principal.tenant}, so there are none to "
        "search; a platform admin opts the tenant in with PATCH "
        f'/api/v1/tenants/{principal.tenant_id} {{"store_prediction_texts": true}} '
        "(texts scored from then on are kept)"
    )


async def _audit(
    ctx: FlowContext, principal: Principal, kind: str, outcome: AuditOutcome, **details: Any
) -> None:
    def work(session: Session) -> None:
        audit.record(
            session,
            actor=principal.actor,
            tenant=principal.tenant,
            action=f"search.{kind}",
            resource=f"search/{kind}",
            outcome=outcome,
            details=details,
        )

    await ctx.write(work)


async def _window(
    ctx: FlowContext,
    principal: Principal,
    kind: str,
    *,
    window_seconds: int,
    task: str | None,
    label: str | None,
    parameters: dict[str, Any],
) -> Window:
    """The caller's window of logged texts; Conflict (audited) when its tenant stores none."""
    since = datetime.now(UTC) - timedelta(seconds=window_seconds)

    def work(session: Session) -> Window | None:
        if not _stores_texts(session, principal.tenant_id):
            return None
        return read_window(
            session,
            tenant_id=principal.tenant_id,
            since=since,
            task=task,
            label=label,
            limit=ctx.settings.search_max_texts,
        )

    window = await ctx.read(work)
    if window is None:
        await _audit(
            ctx, principal, kind, AuditOutcome.REFUSED, reason="texts not stored", **parameters
        )
        raise _not_stored(principal)
    return window


async def similar_flow(
    ctx: FlowContext, analytics: TextAnalytics, principal: Principal, body: SimilarRequest
) -> SimilarResults:
    """The caller's tenant's logged texts most similar to `body.text` (the newest
    SENTIMENTOPS_SEARCH_MAX_TEXTS of the window are searched)."""
    can_search_texts(principal)
    parameters = {"task": body.task, "window_seconds": body.window_seconds, "limit": body.limit}
    window = await _window(
        ctx,
        principal,
        "similar",
        window_seconds=body.window_seconds,
        task=body.task,
        label=None,
        parameters=parameters,
    )
    results = await asyncio.to_thread(analytics.similar, window, query=body.text, limit=body.limit)
    await _audit(
        ctx,
        principal,
        "similar",
        AuditOutcome.SUCCEEDED,
        **parameters,
        searched=len(window.rows),
        results=len(results),
    )
    return SimilarResults(
        since=window.since, searched=len(window.rows), complete=window.complete, results=results
    )


async def topics_flow(
    ctx: FlowContext, analytics: TextAnalytics, principal: Principal, body: TopicsRequest
) -> TopicsResult:
    """The window's texts predicted `body.label` grouped into topics. A window holding more
    texts than one call groups (SENTIMENTOPS_SEARCH_MAX_TEXTS) is refused (422): the topics'
    shares must be those of the whole window."""
    can_search_texts(principal)
    parameters = {
        "task": body.task,
        "label": body.label,
        "window_seconds": body.window_seconds,
        "max_topics": body.max_topics,
    }
    window = await _window(
        ctx,
        principal,
        "topics",
        window_seconds=body.window_seconds,
        task=body.task,
        label=body.label,
        parameters=parameters,
    )
    if not window.complete:
        total = await ctx.read(lambda session: count_window(window, session))
        limit = ctx.settings.search_max_texts
        await _audit(
            ctx, principal, "topics", AuditOutcome.REFUSED, reason="too many texts", **parameters
        )
        raise InvalidInput(
            f"the window holds {total:,} {body.task} texts labelled {body.label}, more than the "
            f"{limit:,} one call groups (SENTIMENTOPS_SEARCH_MAX_TEXTS): shorten window_seconds"
        )
    found = await asyncio.to_thread(analytics.topics, window, max_topics=body.max_topics)
    await _audit(
        ctx,
        principal,
        "topics",
        AuditOutcome.SUCCEEDED,
        **parameters,
        texts=len(window.rows),
        topics=len(found),
    )
    return TopicsResult(
        task=body.task, label=body.label, since=window.since, texts=len(window.rows), topics=found
    )
