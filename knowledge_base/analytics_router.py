"""/api/v1/search: semantic analytics over the caller's tenant's scored texts (tenants that
store prediction texts only). Handlers are thin: each calls one flow
(knowledge_base/analytics_flows.py), which checks the permission and does the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from sentimentops.core.http.deps import FlowDep
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal
from sentimentops.knowledge_base import analytics_flows as flows
from sentimentops.knowledge_base.analytics import TextAnalytics
from sentimentops.knowledge_base.analytics_schemas import (
    SimilarRequest,
    SimilarResults,
    TopicsRequest,
    TopicsResult,
)

SEARCH_PATH = "/api/v1/search"

router = APIRouter(prefix=SEARCH_PATH, tags=["search"], dependencies=[AUTHENTICATED])

_NOT_STORED: dict[int | str, dict[str, Any]] = {
    409: {"description": "the tenant does not store prediction texts"}
}


def get_text_analytics(request: Request) -> TextAnalytics:
    analytics: TextAnalytics = request.app.state.text_analytics
    return analytics


TextAnalyticsDep = Annotated[TextAnalytics, Depends(get_text_analytics)]


@router.post("/similar", operation_id="search-similar", responses=_NOT_STORED)
async def similar(
    body: SimilarRequest, principal: CurrentPrincipal, ctx: FlowDep, analytics: TextAnalyticsDep
) -> SimilarResults:
    """The tenant's scored texts most similar in meaning to `text` (within `window_seconds`,
    optionally of one task), each with its label, probability, model version, time and
    similarity. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.similar_flow(ctx, analytics, principal, body)


@router.post("/topics", operation_id="search-topics", responses=_NOT_STORED)
async def topics(
    body: TopicsRequest, principal: CurrentPrincipal, ctx: FlowDep, analytics: TextAnalyticsDep
) -> TopicsResult:
    """The window's texts predicted `label` for `task` grouped into at most `max_topics`
    topics, largest first, each with its size, share, keywords and the three texts closest to
    its centre (what are people angry about this week?). Roles: analyst, ml_engineer,
    tenant_admin."""
    return await flows.topics_flow(ctx, analytics, principal, body)
