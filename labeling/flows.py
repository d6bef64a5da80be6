"""Feedback and labeling flows: one user-level action each, shared by the API and the CLI. Each
checks its named permission first, then does its work in one transaction (services audit every
change inside it).

The services load pandas (label names, datasets): they are imported inside the flows, so that
the API starts without importing them (the scoring-only install has no pandas)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sentimentops.core.flows import FlowContext
from sentimentops.identity.keys import utcnow
from sentimentops.identity.principal import Principal
from sentimentops.labeling import permissions
from sentimentops.labeling.schemas import (
    AgreementOut,
    AnnotationIn,
    AnnotationOut,
    AnnotationResult,
    ExportResult,
    FeedbackBatch,
    FeedbackOut,
    FeedbackReceipt,
    FeedbackStored,
    ItemPage,
    ItemReview,
    ItemStatus,
    ProjectCreate,
    ProjectDetail,
    ProjectOut,
    ProjectUpdate,
    QueueAnswer,
    ScoresStored,
    SuspectedErrors,
)
from sentimentops.training.datasets.schemas import DatasetVersionOut

if TYPE_CHECKING:
    from sentimentops.inference.service import Scoring

_MESSAGES = {
    "served": "locked to you until locked_until; answer it, skip it, or let the lock expire",
    "wait": "the remaining items are locked by other annotators: ask again in a few minutes",
    "done": "nothing left for you in this project",
}


def _lock_for(ctx: FlowContext) -> timedelta:
    return timedelta(minutes=ctx.settings.labeling_lock_minutes)


async def submit_feedback_flow(
    ctx: FlowContext, principal: Principal, body: FeedbackBatch
) -> FeedbackReceipt:
    """Store a batch of feedback; items whose idempotency key is known are not stored again."""
    permissions.can_submit_feedback(principal)
    from sentimentops.labeling import service

    now = utcnow()

    def work(session: Session) -> FeedbackReceipt:
        stored = service.submit_feedback(
            session, settings=ctx.settings, principal=principal, items=body.items, now=now
        )
        created = sum(1 for _, new in stored if new)
        return FeedbackReceipt(
            created=created,
            duplicates=len(stored) - created,
            items=[
                FeedbackStored(created=new, feedback=FeedbackOut.model_validate(row))
                for row, new in stored
            ],
        )

    try:
        return await ctx.write(work)
    except IntegrityError:
        # A concurrent batch stored one of these keys between this one's read and its write;
        # a second attempt reads it and answers it as a duplicate.
        return await ctx.write(work)


def _detail(session: Session, project_id: str, principal: Principal) -> ProjectDetail:
    from sentimentops.labeling import service

    project = service.get_project(session, principal=principal, project_id=project_id)
    return ProjectDetail(
        project=ProjectOut.model_validate(project),
        progress=service.progress(session, project=project, now=utcnow()),
    )


async def create_project_flow(
    ctx: FlowContext, principal: Principal, body: ProjectCreate, *, scoring: Scoring | None = None
) -> ProjectDetail:
    """A labeling project with its items taken from its source now. With `scoring` (the API
    process's models), texts the prediction log never scored are scored by the production
    model before the project is stored, outside the write transaction."""
    permissions.can_manage_projects(principal)
    from sentimentops.labeling import activelearning, service

    now = utcnow()

    def read(session: Session) -> service.Gathered:
        return service.gather(
            session, settings=ctx.settings, principal=principal, body=body, now=now
        )

    gathered = await ctx.read(read)
    if scoring is not None:
        scored = await activelearning.score_unscored(
            scoring, task=body.task, candidates=gathered.candidates
        )
        gathered = dataclasses.replace(gathered, candidates=scored)

    def work(session: Session) -> ProjectDetail:
        project = service.store_project(
            session, principal=principal, body=body, gathered=gathered, now=now
        )
        return _detail(session, project.id, principal)

    return await ctx.write(work)


async def update_project_flow(
    ctx: FlowContext, principal: Principal, project_id: str, body: ProjectUpdate
) -> ProjectDetail:
    """Switch a project's order, change its guidelines, annotators or caps."""
    permissions.can_manage_projects(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> ProjectDetail:
        project = service.get_project(session, principal=principal, project_id=project_id)
        service.update_project(session, principal=principal, project=project, body=body)
        session.flush()
        return _detail(session, project.id, principal)

    return await ctx.write(work)


async def list_projects_flow(
    ctx: FlowContext, principal: Principal, *, limit: int = 100
) -> list[ProjectOut]:
    permissions.can_read_projects(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> list[ProjectOut]:
        projects = service.list_projects(session, principal=principal, limit=limit)
        return [ProjectOut.model_validate(p) for p in projects]

    return await ctx.read(work)


async def get_project_flow(
    ctx: FlowContext, principal: Principal, project_id: str
) -> ProjectDetail:
    permissions.can_read_projects(principal)
    return await ctx.read(lambda session: _detail(session, project_id, principal))


async def next_item_flow(ctx: FlowContext, principal: Principal, project_id: str) -> QueueAnswer:
    """The caller's next item, locked to it (SENTIMENTOPS_LABELING_LOCK_MINUTES)."""
    permissions.can_annotate(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> QueueAnswer:
        now = utcnow()
        project = service.get_project(session, principal=principal, project_id=project_id)
        served = service.next_item(
            session, principal=principal, project=project, now=now, lock_for=_lock_for(ctx)
        )
        item = None
        if served.item is not None and served.lock is not None:
            item = service.queue_item(project, served.item, served.lock, now=now)
        return QueueAnswer(state=served.state, item=item, message=_MESSAGES[served.state])

    return await ctx.write(work)


async def annotate_flow(
    ctx: FlowContext, principal: Principal, project_id: str, item_id: str, body: AnnotationIn
) -> AnnotationResult:
    permissions.can_annotate(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> AnnotationResult:
        project = service.get_project(session, principal=principal, project_id=project_id)
        answer, item = service.annotate(
            session, principal=principal, project=project, item_id=item_id, body=body, now=utcnow()
        )
        return AnnotationResult.model_validate(
            {"annotation": AnnotationOut.model_validate(answer), "item_status": item.status}
        )

    return await ctx.write(work)


async def skip_flow(
    ctx: FlowContext, principal: Principal, project_id: str, item_id: str
) -> AnnotationOut:
    permissions.can_annotate(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> AnnotationOut:
        project = service.get_project(session, principal=principal, project_id=project_id)
        skipped = service.skip(
            session, principal=principal, project=project, item_id=item_id, now=utcnow()
        )
        return AnnotationOut.model_validate(skipped)

    return await ctx.write(work)


async def undo_flow(ctx: FlowContext, principal: Principal, project_id: str) -> QueueAnswer:
    """The caller's last annotation taken back: its item is served to the caller again."""
    permissions.can_annotate(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> QueueAnswer:
        now = utcnow()
        project = service.get_project(session, principal=principal, project_id=project_id)
        lock, item = service.undo(
            session, principal=principal, project=project, now=now, lock_for=_lock_for(ctx)
        )
        return QueueAnswer(
            state="served",
            item=service.queue_item(project, item, lock, now=now),
            message=_MESSAGES["served"],
        )

    return await ctx.write(work)


async def list_items_flow(
    ctx: FlowContext,
    principal: Principal,
    project_id: str,
    *,
    status: ItemStatus | None,
    limit: int,
    offset: int,
) -> ItemPage:
    permissions.can_review_items(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> ItemPage:
        project = service.get_project(session, principal=principal, project_id=project_id)
        total, items = service.list_items(
            session, project=project, status=status, limit=limit, offset=offset, now=utcnow()
        )
        return ItemPage(total=total, items=items)

    return await ctx.read(work)


async def resolve_flow(
    ctx: FlowContext, principal: Principal, project_id: str, item_id: str, label: str
) -> ItemReview:
    permissions.can_resolve(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> ItemReview:
        project = service.get_project(session, principal=principal, project_id=project_id)
        item = service.resolve(
            session, principal=principal, project=project, item_id=item_id, label=label
        )
        [reviewed] = service.review(session, project=project, items=[item], now=utcnow())
        return reviewed

    return await ctx.write(work)


async def suspected_errors_flow(
    ctx: FlowContext, principal: Principal, project_id: str, body: SuspectedErrors
) -> ScoresStored:
    permissions.can_manage_projects(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> ScoresStored:
        project = service.get_project(session, principal=principal, project_id=project_id)
        updated = service.set_suspected_errors(
            session, principal=principal, project=project, scores=body.scores
        )
        return ScoresStored(updated=updated)

    return await ctx.write(work)


async def agreement_flow(ctx: FlowContext, principal: Principal, project_id: str) -> AgreementOut:
    permissions.can_read_projects(principal)
    from sentimentops.labeling import service

    def work(session: Session) -> AgreementOut:
        project = service.get_project(session, principal=principal, project_id=project_id)
        return AgreementOut.model_validate(service.agreement(session, project=project))

    return await ctx.read(work)


async def export_flow(
    ctx: FlowContext, principal: Principal, project_id: str, *, name: str | None
) -> ExportResult:
    """The project's resolved labels as a dataset version (docs/labeling.md, "Export")."""
    permissions.can_manage_projects(principal)
    from sentimentops.labeling import export, service

    created_files: list[Path] = []

    def work(session: Session) -> ExportResult:
        project = service.get_project(session, principal=principal, project_id=project_id)
        done = export.export_project(
            session,
            settings=ctx.settings,
            principal=principal,
            project=project,
            name=name,
            created_files=created_files,
        )
        return ExportResult(
            created=done.created,
            rows=done.rows,
            relabeled=done.relabeled,
            version=DatasetVersionOut.model_validate(done.version),
        )

    try:
        return await ctx.write(work)
    except BaseException:
        # The snapshot is written before the row: a transaction that failed after it leaves no
        # file behind (only files this call created; another version may share a hash's file).
        for path in created_files:
            path.unlink(missing_ok=True)
        raise
