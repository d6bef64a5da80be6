"""/api/v1/data-issues: thin handlers, one flow call each (the flow checks the named permission
first; curation/permissions.py). Curation itself runs from the CLI (slow work, not a request)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from sentimentops.core.http.deps import FlowDep
from sentimentops.curation import flows
from sentimentops.curation.schemas import DataIssueOut
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal

router = APIRouter(prefix="/api/v1/data-issues", tags=["data_issues"], dependencies=[AUTHENTICATED])

# Issues are named by 32 hex digits (uuid4().hex); anything else is refused here.
IssueId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.get("", operation_id="data_issues-list")
async def list_issues(
    principal: CurrentPrincipal,
    ctx: FlowDep,
    status: Literal["open"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DataIssueOut]:
    """The tenant's data issues (schema or label-balance drift of a dataset version from the
    previous one, with evidence), newest first. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.list_issues_flow(ctx, principal, status=status, limit=limit)


@router.get("/{issue_id}", operation_id="data_issues-get")
async def get_issue(issue_id: IssueId, principal: CurrentPrincipal, ctx: FlowDep) -> DataIssueOut:
    """One data issue with its evidence. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.get_issue_flow(ctx, principal, issue_id)
