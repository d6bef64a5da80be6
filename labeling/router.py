"""/api/v1/feedback and /api/v1/labeling: thin handlers, one flow call each (the flow checks the
named permission first; labeling/permissions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sentimentops.core.http.deps import FlowDep
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal
from sentimentops.inference.router import ScoringDep
from sentimentops.labeling import flows
from sentimentops.labeling.schemas import (
    AgreementOut,
    AnnotationIn,
    AnnotationOut,
    AnnotationResult,
    ExportIn,
    ExportResult,
    FeedbackBatch,
    FeedbackReceipt,
    ItemPage,
    ItemReview,
    ItemStatus,
    ProjectCreate,
    ProjectDetail,
    ProjectOut,
    ProjectUpdate,
    QueueAnswer,
    ResolveIn,
    ScoresStored,
    SuspectedErrors,
)

feedback_router = APIRouter(
    prefix="/api/v1/feedback", tags=["feedback"], dependencies=[AUTHENTICATED]
)
router = APIRouter(prefix="/api/v1/labeling", tags=["labeling"], dependencies=[AUTHENTICATED])

# Projects and items are named by 32 hex digits (uuid4().hex); anything else is refused here.
ProjectId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]
ItemId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@feedback_router.post("", operation_id="feedback-submit")
async def submit_feedback(
    body: FeedbackBatch, principal: CurrentPrincipal, ctx: FlowDep
) -> FeedbackReceipt:
    """Report predictions that were wrong, with the right label (at most 1000 items). Each item
    names the text or its SHA-256 and carries an idempotency key: a retried item is stored once.
    Linked to the newest logged prediction of that text (of `model_version` when given). Any
    role in the tenant but agent."""
    return await flows.submit_feedback_flow(ctx, principal, body)


@router.post("/projects", status_code=201, operation_id="labeling-create_project")
async def create_project(
    body: ProjectCreate, principal: CurrentPrincipal, ctx: FlowDep, scoring: ScoringDep
) -> ProjectDetail:
    """A project over a dataset version, the tenant's feedback or its logged texts (tenants that
    store them); its items are taken now (at most SENTIMENTOPS_LABELING_MAX_ITEMS), and texts
    the prediction log never scored are scored by this process's production model. Roles:
    analyst, ml_engineer, tenant_admin."""
    return await flows.create_project_flow(ctx, principal, body, scoring=scoring)


@router.get("/projects", operation_id="labeling-list_projects")
async def list_projects(
    principal: CurrentPrincipal,
    ctx: FlowDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ProjectOut]:
    """The tenant's projects, newest first."""
    return await flows.list_projects_flow(ctx, principal, limit=limit)


@router.get("/projects/{project_id}", operation_id="labeling-get_project")
async def get_project(
    project_id: ProjectId, principal: CurrentPrincipal, ctx: FlowDep
) -> ProjectDetail:
    """A project's settings and progress."""
    return await flows.get_project_flow(ctx, principal, project_id)


@router.patch("/projects/{project_id}", operation_id="labeling-update_project")
async def update_project(
    project_id: ProjectId, body: ProjectUpdate, principal: CurrentPrincipal, ctx: FlowDep
) -> ProjectDetail:
    """Switch the queue's order, change the guidelines, annotators (a removed one's lock is
    released), items per annotator or drift window. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.update_project_flow(ctx, principal, project_id, body)


@router.get("/projects/{project_id}/next", operation_id="labeling-next")
async def next_item(
    project_id: ProjectId, principal: CurrentPrincipal, ctx: FlowDep
) -> QueueAnswer:
    """The caller's next item, locked to it for SENTIMENTOPS_LABELING_LOCK_MINUTES, with why
    the queue chose it; the same item again while the lock holds. Roles: annotator, analyst,
    ml_engineer, and the project must list the caller."""
    return await flows.next_item_flow(ctx, principal, project_id)


@router.post(
    "/projects/{project_id}/items/{item_id}/annotations",
    status_code=201,
    operation_id="labeling-annotate",
)
async def annotate(
    project_id: ProjectId,
    item_id: ItemId,
    body: AnnotationIn,
    principal: CurrentPrincipal,
    ctx: FlowDep,
) -> AnnotationResult:
    """The caller's label for an item locked to it (409 when the lock expired)."""
    return await flows.annotate_flow(ctx, principal, project_id, item_id, body)


@router.post("/projects/{project_id}/items/{item_id}/skip", operation_id="labeling-skip")
async def skip(
    project_id: ProjectId, item_id: ItemId, principal: CurrentPrincipal, ctx: FlowDep
) -> AnnotationOut:
    """Give back an item locked to the caller; it is not served to the caller again."""
    return await flows.skip_flow(ctx, principal, project_id, item_id)


@router.post("/projects/{project_id}/undo", operation_id="labeling-undo")
async def undo(project_id: ProjectId, principal: CurrentPrincipal, ctx: FlowDep) -> QueueAnswer:
    """Take back the caller's last annotation: its item is locked to the caller again."""
    return await flows.undo_flow(ctx, principal, project_id)


@router.get("/projects/{project_id}/items", operation_id="labeling-list_items")
async def list_items(
    project_id: ProjectId,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    status: ItemStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ItemPage:
    """Items with their model answers, gold labels and every annotation (e.g. status=conflict
    for a reviewer). Roles: approver, analyst, ml_engineer, tenant_admin."""
    return await flows.list_items_flow(
        ctx, principal, project_id, status=status, limit=limit, offset=offset
    )


@router.post("/projects/{project_id}/items/{item_id}/resolve", operation_id="labeling-resolve")
async def resolve(
    project_id: ProjectId,
    item_id: ItemId,
    body: ResolveIn,
    principal: CurrentPrincipal,
    ctx: FlowDep,
) -> ItemReview:
    """A reviewer's label for an item in conflict. Role: approver, who did not annotate it."""
    return await flows.resolve_flow(ctx, principal, project_id, item_id, body.label)


@router.post(
    "/projects/{project_id}/suspected-errors", operation_id="labeling-set_suspected_errors"
)
async def set_suspected_errors(
    project_id: ProjectId, body: SuspectedErrors, principal: CurrentPrincipal, ctx: FlowDep
) -> ScoresStored:
    """Scores (0 … 1) of a label-error finder per item; the suspected_error order serves the
    highest first. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.suspected_errors_flow(ctx, principal, project_id, body)


@router.get("/projects/{project_id}/agreement", operation_id="labeling-agreement")
async def agreement(
    project_id: ProjectId, principal: CurrentPrincipal, ctx: FlowDep
) -> AgreementOut:
    """Cohen's κ (two annotators), Krippendorff's α (any number), and per annotator: agreement
    with the others and accuracy on gold items."""
    return await flows.agreement_flow(ctx, principal, project_id)


@router.post("/projects/{project_id}/export", status_code=201, operation_id="labeling-export")
async def export(
    project_id: ProjectId, body: ExportIn, principal: CurrentPrincipal, ctx: FlowDep
) -> ExportResult:
    """The resolved labels as a content-hashed dataset version whose lineage names the project,
    its source and its annotators. Roles: analyst, ml_engineer, tenant_admin."""
    return await flows.export_flow(ctx, principal, project_id, name=body.name)
