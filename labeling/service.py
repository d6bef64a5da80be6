"""Feedback and labeling: feedback stored once per idempotency key and linked to its prediction,
a project's items materialised from its source, the annotators' queue (locks, answers, skips,
undo), review of conflicts, and the reads the API shows.

Services take a session and never commit it (the flows do). Every state change is audited in
the same transaction. `now` comes from the caller, so that lock expiry is testable without
waiting."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.keys import as_utc
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned
from sentimentops.inference.models import PredictionRecord
from sentimentops.labeling import activelearning
from sentimentops.labeling.activelearning import NO_SIGNALS, Candidate
from sentimentops.labeling.agreement import Answer, ProjectAgreement, project_agreement
from sentimentops.labeling.models import (
    Feedback,
    LabelingAssignment,
    LabelingItem,
    LabelingProject,
)
from sentimentops.labeling.schemas import (
    AnnotationIn,
    AnnotationOut,
    FeedbackItem,
    ItemReview,
    Progress,
    ProjectCreate,
    ProjectUpdate,
    QueueItem,
    QueueState,
    SuspectedError,
)
from sentimentops.training.reference_data import LABEL_NAMES

# Assignment statuses.
LOCKED, DONE, SKIPPED = "locked", "done", "skipped"
# Item statuses.
OPEN, CONFLICT, RESOLVED = "open", "conflict", "resolved"
# `resolved_by` of items nobody had to decide: the annotators agreed, or the label was known.
BY_AGREEMENT, BY_GOLD = "agreement", "gold"
# Candidates tried per `next` call: each one lost to a concurrent annotator costs a savepoint.
CLAIM_CANDIDATES = 20
# Ids per IN (…) query.
CHUNK = 500


def sha256_of(text: str) -> str:
    """The prediction log's text hash (inference/service.py)."""
    return hashlib.sha256(text.encode()).hexdigest()


def labels_of(task: str) -> list[str]:
    return list(LABEL_NAMES[task])


def _check_label(labels: Sequence[str], label: str, *, what: str = "label") -> None:
    if label not in labels:
        raise InvalidInput(f"{what} {label!r} is not one of {', '.join(labels)}")


def _check_text(settings: Settings, text: str, *, what: str) -> None:
    if len(text) > settings.max_text_chars:
        raise InvalidInput(
            f"{what} is longer than {settings.max_text_chars:,} characters "
            "(SENTIMENTOPS_MAX_TEXT_CHARS)"
        )


def audit_change(
    session: Session,
    principal: Principal,
    action: str,
    resource: str,
    **details: Any,
) -> None:
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action=f"labeling.{action}",
        resource=resource,
        outcome=AuditOutcome.SUCCEEDED,
        details=details,
    )


def _stores_texts(session: Session, tenant_id: str) -> bool:
    query = select(Tenant.store_prediction_texts).where(Tenant.id == tenant_id)
    return bool(session.execute(query).scalar())


# --- Feedback -------------------------------------------------------------------------------------


def _linked(rows: Sequence[PredictionRecord], model_version: str | None) -> PredictionRecord | None:
    """The logged prediction feedback is about: the named version's newest answer, else the
    production model's newest, else the newest of any alias."""
    newest = sorted(rows, key=lambda r: r.id, reverse=True)
    if model_version is not None:
        return next((r for r in newest if r.model_version == model_version), None)
    production = [r for r in newest if r.model_alias == activelearning.PRODUCTION]
    chosen = production or newest
    return chosen[0] if chosen else None


def submit_feedback(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    items: Sequence[FeedbackItem],
    now: datetime,
) -> list[tuple[Feedback, bool]]:
    """Store each item once per idempotency key, in request order: (row, created). A key used
    before for different feedback (task, label or text) is a Conflict and nothing is stored; a
    concurrent batch with the same key makes the flush fail, and the flow retries the batch."""
    digests: list[str] = []
    for index, item in enumerate(items):
        _check_label(labels_of(item.task), item.label, what=f"item {index}: label")
        if item.text is not None:
            _check_text(settings, item.text, what=f"item {index}: text")
            digest = sha256_of(item.text)
            if item.text_sha256 is not None and item.text_sha256 != digest:
                raise InvalidInput(f"item {index}: text_sha256 is not the SHA-256 of text")
        elif item.text_sha256 is not None:
            digest = item.text_sha256
        else:  # FeedbackItem's own validator refuses this first
            raise InvalidInput(f"item {index}: give the text or its text_sha256")
        digests.append(digest)

    keys = sorted({item.idempotency_key for item in items})
    known: dict[str, Feedback] = {}
    for start in range(0, len(keys), CHUNK):
        query = owned(Feedback, principal).where(
            Feedback.idempotency_key.in_(keys[start : start + CHUNK])
        )
        known.update((row.idempotency_key, row) for row in session.execute(query).scalars())

    fresh = [
        (i, d) for (i, d) in zip(items, digests, strict=True) if i.idempotency_key not in known
    ]
    logged: dict[tuple[str, str], list[PredictionRecord]] = {}
    for task in {i.task for i, _ in fresh}:
        found = activelearning.latest_rows(
            session,
            tenant_id=principal.tenant_id,
            task=task,
            hashes=[d for i, d in fresh if i.task == task],
        )
        logged.update(((task, digest), rows) for digest, rows in found.items())
    keep_text = _stores_texts(session, principal.tenant_id)

    results: list[tuple[Feedback, bool]] = []
    for item, digest in zip(items, digests, strict=True):
        row = known.get(item.idempotency_key)
        if row is not None:
            if (row.task, row.label, row.text_sha256) != (item.task, item.label, digest):
                raise Conflict(
                    f"idempotency key {item.idempotency_key!r} was used before for other "
                    "feedback (task, label or text differ)"
                )
            results.append((row, False))
            continue
        prediction = _linked(logged.get((item.task, digest), []), item.model_version)
        row = Feedback(
            id=uuid.uuid4().hex,
            tenant_id=principal.tenant_id,
            idempotency_key=item.idempotency_key,
            task=item.task,
            label=item.label,
            text_sha256=digest,
            text=item.text if keep_text else None,
            request_id=item.request_id,
            prediction_id=prediction.id if prediction is not None else None,
            model_version=item.model_version
            or (prediction.model_version if prediction is not None else None),
            predicted_label=prediction.label if prediction is not None else None,
            submitted_by=principal.actor,
            created_at=now,
        )
        session.add(row)
        known[item.idempotency_key] = row
        results.append((row, True))
    session.flush()
    created = sum(1 for _, new in results if new)
    audit_change(
        session,
        principal,
        "feedback",
        "feedback",
        created=created,
        duplicates=len(results) - created,
        linked=sum(1 for row, new in results if new and row.prediction_id is not None),
    )
    return results


# --- Projects -------------------------------------------------------------------------------------


def _from_dataset(
    session: Session, *, settings: Settings, principal: Principal, task: str, ref: str, cap: int
) -> tuple[str, list[Candidate]]:
    # pandas and pyarrow load with the dataset service, only when a project reads a dataset.
    from sentimentops.training.datasets import service as datasets

    version = datasets.get_version(session, tenant_id=principal.tenant_id, ref=ref)
    if version.task != task:
        raise InvalidInput(f"dataset version {version.id} is for {version.task}, not {task}")
    frame = datasets.load_frame(settings, version)
    if len(frame) > cap:  # a fixed seed: the same project definition picks the same rows
        frame = frame.sample(n=cap, random_state=0).sort_index()
    names = labels_of(task)
    candidates = [
        Candidate(
            text=text, digest=sha256_of(text), source_ref=str(row_id), source_label=names[label]
        )
        for row_id, text, label in zip(
            frame["id"].tolist(), frame["text"].tolist(), frame["label"].tolist(), strict=True
        )
    ]
    return version.id, candidates


def _from_feedback(
    session: Session, *, principal: Principal, task: str, since: datetime | None, cap: int
) -> list[Candidate]:
    """The newest feedback with a stored text, one item per distinct text."""
    query = owned(Feedback, principal).where(Feedback.task == task, Feedback.text.is_not(None))
    if since is not None:
        query = query.where(Feedback.created_at >= since)
    query = query.order_by(Feedback.created_at.desc(), Feedback.id)
    chosen: dict[str, Feedback] = {}
    for row in session.execute(query.execution_options(yield_per=1000)).scalars():
        chosen.setdefault(row.text_sha256, row)
        if len(chosen) >= cap:
            break
    return [
        Candidate(text=row.text, digest=digest, source_ref=row.id, source_label=row.label)
        for digest, row in chosen.items()
        if row.text is not None  # always: the query selects rows with a text
    ]


def _from_predictions(
    session: Session, *, principal: Principal, task: str, since: datetime | None, cap: int
) -> list[Candidate]:
    """The newest logged texts (tenants that store them), one item per distinct text."""
    if not _stores_texts(session, principal.tenant_id):
        raise Conflict(
            f"prediction texts are not stored for tenant {principal.tenant}, so there are none "
            "to label; a platform admin opts the tenant in with PATCH "
            f'/api/v1/tenants/{principal.tenant_id} {{"store_prediction_texts": true}}'
        )
    conditions = [
        PredictionRecord.tenant_id == principal.tenant_id,
        PredictionRecord.task == task,
        PredictionRecord.text.is_not(None),
    ]
    if since is not None:
        conditions.append(PredictionRecord.created_at >= since)
    newest = func.max(PredictionRecord.id)
    ids = list(
        session.execute(
            select(newest)
            .where(*conditions)
            .group_by(PredictionRecord.text_sha256)
            .order_by(newest.desc())
            .limit(cap)
        ).scalars()
    )
    rows: list[PredictionRecord] = []
    for start in range(0, len(ids), CHUNK):
        query = select(PredictionRecord).where(PredictionRecord.id.in_(ids[start : start + CHUNK]))
        rows.extend(session.execute(query).scalars())
    rows.sort(key=lambda r: r.id, reverse=True)
    return [
        Candidate(text=r.text, digest=r.text_sha256, source_ref=str(r.id))
        for r in rows
        if r.text is not None
    ]


def _with_signals(
    session: Session, *, principal: Principal, task: str, candidates: list[Candidate]
) -> list[Candidate]:
    found = activelearning.lookup(
        session,
        tenant_id=principal.tenant_id,
        task=task,
        hashes=[c.digest for c in candidates],
    )
    return [dataclasses.replace(c, signals=found.get(c.digest, NO_SIGNALS)) for c in candidates]


def _feedback_disagreement(session: Session, candidates: list[Candidate]) -> list[Candidate]:
    """Feedback saying the served model was wrong is a disagreement of its own."""
    ids = [c.source_ref for c in candidates]
    served: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(Feedback.id, Feedback.model_version, Feedback.predicted_label).where(
            Feedback.id.in_(ids[start : start + CHUNK])
        )
        served.update((i, (v, p)) for i, v, p in session.execute(query).all())
    out = []
    for c in candidates:
        version, predicted = served[c.source_ref]
        if predicted is not None and predicted != c.source_label and not c.signals.disagreement:
            note = f"feedback says model version {version} answered wrongly"
            c = dataclasses.replace(
                c, signals=dataclasses.replace(c.signals, disagreement=True, disagreement_note=note)
            )
        out.append(c)
    return out


def _spread(sourced: list[Candidate], gold: list[Candidate]) -> list[Candidate]:
    """`gold` inserted at even intervals among `sourced` (one gold among four: third)."""
    out = list(sourced)
    for index, item in enumerate(gold):
        out.insert(round((index + 1) * len(sourced) / (len(gold) + 1)) + index, item)
    return out


@dataclass(frozen=True)
class Gathered:
    """A project's texts and their signals, read from its source before anything is written."""

    dataset_id: str | None
    candidates: list[Candidate]


def gather(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    body: ProjectCreate,
    now: datetime,
) -> Gathered:
    """Check a project definition and read its texts from its source (at most
    settings.labeling_max_items) plus its gold items, with their signals from the prediction
    log. Only reads: the flow may score the texts the log never saw before storing."""
    labels = labels_of(body.task)
    if len(set(body.annotators)) != len(body.annotators):
        raise InvalidInput("annotators: each account once")
    if body.overlap > len(body.annotators):
        raise InvalidInput(
            f"overlap {body.overlap} needs at least as many annotators ({len(body.annotators)})"
        )
    for index, gold in enumerate(body.gold):
        _check_label(labels, gold.label, what=f"gold item {index}: label")
        _check_text(settings, gold.text, what=f"gold item {index}: text")
    cap = min(body.max_items or settings.labeling_max_items, settings.labeling_max_items)
    since = now - timedelta(hours=body.source.window_hours) if body.source.window_hours else None
    dataset_id = None
    source = body.source
    if source.dataset_id is not None:  # exactly when the kind is dataset (ProjectSource)
        dataset_id, candidates = _from_dataset(
            session,
            settings=settings,
            principal=principal,
            task=body.task,
            ref=source.dataset_id,
            cap=cap,
        )
    elif source.kind == "feedback":
        candidates = _from_feedback(
            session, principal=principal, task=body.task, since=since, cap=cap
        )
    else:
        candidates = _from_predictions(
            session, principal=principal, task=body.task, since=since, cap=cap
        )
    if not candidates:
        raise InvalidInput(f"the {source.kind} source holds no {body.task} texts to label")
    candidates = _with_signals(session, principal=principal, task=body.task, candidates=candidates)
    if source.kind == "feedback":
        candidates = _feedback_disagreement(session, candidates)
    # Gold items get signals like any other and are spread among the source's items, so that
    # nothing in the queue (neither why nor position) sets them apart.
    known = [
        Candidate(text=g.text, digest=sha256_of(g.text), source_ref=f"gold:{i}", gold_label=g.label)
        for i, g in enumerate(body.gold)
    ]
    known = _with_signals(session, principal=principal, task=body.task, candidates=known)
    candidates = _spread(candidates, known)
    return Gathered(dataset_id=dataset_id, candidates=candidates)


def store_project(
    session: Session,
    *,
    principal: Principal,
    body: ProjectCreate,
    gathered: Gathered,
    now: datetime,
) -> LabelingProject:
    """The project and its items, copied in from what `gather` read."""
    candidates, dataset_id, source = gathered.candidates, gathered.dataset_id, body.source
    project = LabelingProject(
        id=uuid.uuid4().hex,
        tenant_id=principal.tenant_id,
        name=body.name,
        task=body.task,
        labels=labels_of(body.task),
        guidelines=body.guidelines,
        annotators=list(body.annotators),
        items_per_annotator=body.items_per_annotator,
        overlap=body.overlap,
        order=body.order,
        drift_window_hours=body.drift_window_hours,
        source_kind=source.kind,
        source_dataset_id=dataset_id,
        item_count=len(candidates),
        created_by=principal.actor,
        created_at=now,
        exports=[],
    )
    session.add(project)
    session.flush()
    rows = [
        {
            "id": uuid.uuid4().hex,
            "tenant_id": principal.tenant_id,
            "project_id": project.id,
            "position": position,
            "text": c.text,
            "text_sha256": c.digest,
            "source_ref": c.source_ref,
            "source_label": c.source_label,
            "gold_label": c.gold_label,
            "model_version": c.signals.model_version,
            "predicted_label": c.signals.predicted_label,
            "margin": c.signals.margin,
            "disagreement": c.signals.disagreement,
            "disagreement_note": c.signals.disagreement_note,
            "observed_at": c.signals.observed_at,
            "suspected_error": None,
            "status": OPEN if c.gold_label is None else RESOLVED,
            "resolved_label": c.gold_label,
            "resolved_by": None if c.gold_label is None else BY_GOLD,
        }
        for position, c in enumerate(candidates)
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(LabelingItem), rows[start : start + CHUNK])
    audit_change(
        session,
        principal,
        "project_create",
        f"labeling_project:{project.id}",
        name=project.name,
        task=project.task,
        source=source.kind,
        dataset=dataset_id,
        items=len(candidates),
        gold=len(body.gold),
        annotators=project.annotators,
        overlap=project.overlap,
        order=project.order,
    )
    return project


def update_project(
    session: Session, *, principal: Principal, project: LabelingProject, body: ProjectUpdate
) -> LabelingProject:
    """Change a running project's guidelines, annotators, per-person cap, order or drift window.
    A removed annotator's lock is released at once (their answers stay)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput("nothing to change: give at least one field")
    if body.annotators is not None:
        if len(set(body.annotators)) != len(body.annotators):
            raise InvalidInput("annotators: each account once")
        if project.overlap > len(body.annotators):
            raise InvalidInput(
                f"the project's overlap is {project.overlap}: keep at least as many annotators"
            )
        removed = sorted(set(project.annotators) - set(body.annotators))
        if removed:
            session.execute(
                delete(LabelingAssignment).where(
                    LabelingAssignment.project_id == project.id,
                    LabelingAssignment.annotator.in_(removed),
                    LabelingAssignment.status == LOCKED,
                )
            )
    for name, value in changes.items():
        setattr(project, name, value)
    audit_change(
        session,
        principal,
        "project_update",
        f"labeling_project:{project.id}",
        changed=sorted(changes),
        order=project.order,
        annotators=project.annotators,
    )
    return project


def get_project(session: Session, *, principal: Principal, project_id: str) -> LabelingProject:
    return get_owned(session, LabelingProject, project_id, principal)


def list_projects(session: Session, *, principal: Principal, limit: int) -> list[LabelingProject]:
    query = owned(LabelingProject, principal).order_by(
        LabelingProject.created_at.desc(), LabelingProject.id
    )
    return list(session.execute(query.limit(limit)).scalars())


def get_item(session: Session, *, project: LabelingProject, item_id: str) -> LabelingItem:
    """An item of `project` (already checked to be the caller's); anything else is NotFound."""
    item = session.get(LabelingItem, item_id)
    if item is None or item.project_id != project.id or item.tenant_id != project.tenant_id:
        raise NotFound("labeling item not found")
    return item


def progress(session: Session, *, project: LabelingProject, now: datetime) -> Progress:
    statuses = dict(
        session.execute(
            select(LabelingItem.status, func.count())
            .where(LabelingItem.project_id == project.id, LabelingItem.gold_label.is_(None))
            .group_by(LabelingItem.status)
        ).all()
    )
    assignments = dict(
        session.execute(
            select(LabelingAssignment.status, func.count())
            .where(
                LabelingAssignment.project_id == project.id,
                or_(
                    LabelingAssignment.status != LOCKED,
                    LabelingAssignment.locked_until >= now,
                ),
            )
            .group_by(LabelingAssignment.status)
        ).all()
    )
    return Progress(
        open=statuses.get(OPEN, 0),
        conflict=statuses.get(CONFLICT, 0),
        resolved=statuses.get(RESOLVED, 0),
        annotations=assignments.get(DONE, 0),
        skips=assignments.get(SKIPPED, 0),
        locked=assignments.get(LOCKED, 0),
    )


# --- The queue ------------------------------------------------------------------------------------


def annotator_of(principal: Principal, project: LabelingProject) -> str:
    """The caller as an annotator of `project` (its account id); Forbidden when not listed."""
    if principal.subject not in project.annotators:
        raise Forbidden(f"{principal.name} is not an annotator of project {project.name!r}")
    return principal.subject


def _release_expired(session: Session, *, project: LabelingProject, now: datetime) -> None:
    session.execute(
        delete(LabelingAssignment).where(
            LabelingAssignment.project_id == project.id,
            LabelingAssignment.status == LOCKED,
            LabelingAssignment.locked_until < now,
        )
    )


def _held_lock(
    session: Session, *, project: LabelingProject, annotator: str
) -> LabelingAssignment | None:
    query = select(LabelingAssignment).where(
        LabelingAssignment.project_id == project.id,
        LabelingAssignment.annotator == annotator,
        LabelingAssignment.status == LOCKED,
    )
    return session.execute(query.limit(1)).scalar()


def _free_slot(session: Session, *, item: LabelingItem, overlap: int) -> int | None:
    taken = set(
        session.execute(
            select(LabelingAssignment.slot).where(
                LabelingAssignment.item_id == item.id, LabelingAssignment.slot.is_not(None)
            )
        ).scalars()
    )
    return next((slot for slot in range(overlap) if slot not in taken), None)


@dataclass(frozen=True)
class Served:
    state: QueueState
    item: LabelingItem | None = None
    lock: LabelingAssignment | None = None


def next_item(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    now: datetime,
    lock_for: timedelta,
) -> Served:
    """The caller's item: the one it holds, else the first free one in the project's order,
    locked to it until now + lock_for. An item is served to at most `overlap` annotators (gold
    items to every annotator once, so that each one's accuracy is measured); expired locks are
    released first."""
    annotator = annotator_of(principal, project)
    _release_expired(session, project=project, now=now)
    held = _held_lock(session, project=project, annotator=annotator)
    if held is not None:
        return Served("served", get_item(session, project=project, item_id=held.item_id), held)
    if project.items_per_annotator is not None:
        done = session.execute(
            select(func.count()).where(
                LabelingAssignment.project_id == project.id,
                LabelingAssignment.annotator == annotator,
                LabelingAssignment.status == DONE,
            )
        ).scalar_one()
        if done >= project.items_per_annotator:
            return Served("done")

    mine = exists().where(
        LabelingAssignment.item_id == LabelingItem.id, LabelingAssignment.annotator == annotator
    )
    slots_taken = (
        select(func.count(LabelingAssignment.id))
        .where(LabelingAssignment.item_id == LabelingItem.id, LabelingAssignment.slot.is_not(None))
        .scalar_subquery()
    )
    window_start = activelearning.window_start_of(now, project.drift_window_hours)
    candidates = session.execute(
        select(LabelingItem)
        .where(
            LabelingItem.project_id == project.id,
            ~mine,
            or_(
                and_(LabelingItem.status == OPEN, slots_taken < project.overlap),
                LabelingItem.gold_label.is_not(None),
            ),
        )
        .order_by(*activelearning.order_by(project.order, window_start=window_start))
        .limit(CLAIM_CANDIDATES)
    ).scalars()
    for item in list(candidates):
        slot = None
        if item.gold_label is None:
            slot = _free_slot(session, item=item, overlap=project.overlap)
            if slot is None:
                continue
        assignment = LabelingAssignment(
            tenant_id=project.tenant_id,
            project_id=project.id,
            item_id=item.id,
            annotator=annotator,
            slot=slot,
            status=LOCKED,
            locked_until=now + lock_for,
            updated_at=now,
        )
        try:
            # Another annotator may take the same slot at the same moment: the unique
            # constraint lets one of them win, and the other tries the next candidate.
            with session.begin_nested():
                session.add(assignment)
        except IntegrityError:
            continue
        audit_change(
            session,
            principal,
            "lock",
            f"labeling_item:{item.id}",
            project=project.id,
            until=assignment.locked_until,
        )
        return Served("served", item, assignment)
    # Worth waiting for: an item someone else holds now that the caller has not had yet (its
    # lock may expire, or its annotator skip it).
    theirs = aliased(LabelingAssignment)
    others_hold = session.execute(
        select(
            exists().where(
                theirs.project_id == project.id,
                theirs.status == LOCKED,
                theirs.annotator != annotator,
                ~exists().where(
                    LabelingAssignment.item_id == theirs.item_id,
                    LabelingAssignment.annotator == annotator,
                ),
            )
        )
    ).scalar()
    return Served("wait" if others_hold else "done")


def _mine(session: Session, *, item: LabelingItem, annotator: str) -> LabelingAssignment | None:
    query = select(LabelingAssignment).where(
        LabelingAssignment.item_id == item.id, LabelingAssignment.annotator == annotator
    )
    return session.execute(query).scalar()


def _held_now(
    session: Session, *, item: LabelingItem, annotator: str, now: datetime
) -> LabelingAssignment:
    """The caller's unexpired lock on `item`, or Conflict saying why there is none."""
    mine = _mine(session, item=item, annotator=annotator)
    if mine is not None and mine.status == DONE:
        raise Conflict("you already annotated this item; undo it first to change your answer")
    if mine is None or mine.status != LOCKED:
        raise Conflict("this item is not locked to you: ask for the next item")
    if as_utc(mine.locked_until) < now:
        raise Conflict("your lock on this item expired; ask for the next item")
    return mine


def _settle(session: Session, *, project: LabelingProject, item: LabelingItem) -> None:
    """The item's status from its answers: open until `overlap` annotators answered, then
    resolved when they agree and in conflict (for a reviewer) when they do not."""
    if item.gold_label is not None:
        return
    answers = list(
        session.execute(
            select(LabelingAssignment.label).where(
                LabelingAssignment.item_id == item.id,
                LabelingAssignment.status == DONE,
                LabelingAssignment.slot.is_not(None),
            )
        ).scalars()
    )
    if len(answers) < project.overlap:
        item.status, item.resolved_label, item.resolved_by = OPEN, None, None
    elif len(set(answers)) == 1:
        item.status, item.resolved_label, item.resolved_by = RESOLVED, answers[0], BY_AGREEMENT
    else:
        item.status, item.resolved_label, item.resolved_by = CONFLICT, None, None


def annotate(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    item_id: str,
    body: AnnotationIn,
    now: datetime,
) -> tuple[LabelingAssignment, LabelingItem]:
    """The caller's answer on an item locked to it (the lock must not have expired)."""
    annotator = annotator_of(principal, project)
    item = get_item(session, project=project, item_id=item_id)
    _check_label(project.labels, body.label)
    held = _held_now(session, item=item, annotator=annotator, now=now)
    held.status, held.label, held.note = DONE, body.label, body.note
    held.time_spent_ms, held.updated_at = body.time_spent_ms, now
    session.flush()
    _settle(session, project=project, item=item)
    audit_change(
        session,
        principal,
        "annotate",
        f"labeling_item:{item.id}",
        project=project.id,
        label=body.label,
        time_spent_ms=body.time_spent_ms,
        item_status=item.status,
    )
    return held, item


def skip(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    item_id: str,
    now: datetime,
) -> LabelingAssignment:
    """Give back an item locked to the caller; it is never served to the caller again, and its
    slot goes to another annotator."""
    annotator = annotator_of(principal, project)
    item = get_item(session, project=project, item_id=item_id)
    held = _held_now(session, item=item, annotator=annotator, now=now)
    held.status, held.slot, held.updated_at = SKIPPED, None, now
    audit_change(session, principal, "skip", f"labeling_item:{item.id}", project=project.id)
    return held


def undo(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    now: datetime,
    lock_for: timedelta,
) -> tuple[LabelingAssignment, LabelingItem]:
    """Take back the caller's last annotation in the project: the item is locked to the caller
    again (its next `next`), and an agreement or conflict it made is undone. An item a reviewer
    resolved stays as decided."""
    annotator = annotator_of(principal, project)
    last = session.execute(
        select(LabelingAssignment)
        .where(
            LabelingAssignment.project_id == project.id,
            LabelingAssignment.annotator == annotator,
            LabelingAssignment.status == DONE,
        )
        .order_by(LabelingAssignment.updated_at.desc(), LabelingAssignment.id.desc())
        .limit(1)
    ).scalar()
    if last is None:
        raise NotFound("you have no annotation to undo in this project")
    item = get_item(session, project=project, item_id=last.item_id)
    if item.status == RESOLVED and item.resolved_by not in (BY_AGREEMENT, BY_GOLD):
        raise Conflict(f"a reviewer resolved this item ({item.resolved_by}); it cannot be undone")
    # One lock per annotator: a lock taken since the annotation goes back to the queue.
    session.execute(
        delete(LabelingAssignment).where(
            LabelingAssignment.project_id == project.id,
            LabelingAssignment.annotator == annotator,
            LabelingAssignment.status == LOCKED,
        )
    )
    undone = last.label
    last.status, last.label, last.note, last.time_spent_ms = LOCKED, None, None, None
    last.locked_until, last.updated_at = now + lock_for, now
    session.flush()
    _settle(session, project=project, item=item)
    audit_change(
        session, principal, "undo", f"labeling_item:{item.id}", project=project.id, label=undone
    )
    return last, item


def resolve(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    item_id: str,
    label: str,
) -> LabelingItem:
    """A reviewer's label for an item its annotators disagreed on. A reviewer never decides an
    item it annotated itself (separation of duties, as proposer ≠ approver)."""
    item = get_item(session, project=project, item_id=item_id)
    _check_label(project.labels, label)
    if item.status != CONFLICT:
        raise Conflict(f"the item is {item.status}, not in conflict: nothing to resolve")
    answered = _mine(session, item=item, annotator=principal.subject)
    if answered is not None and answered.status == DONE:
        raise Forbidden("you annotated this item: another reviewer resolves it")
    item.status, item.resolved_label, item.resolved_by = RESOLVED, label, principal.actor
    audit_change(
        session, principal, "resolve", f"labeling_item:{item.id}", project=project.id, label=label
    )
    return item


def set_suspected_errors(
    session: Session,
    *,
    principal: Principal,
    project: LabelingProject,
    scores: Sequence[SuspectedError],
) -> int:
    """Store an external label-error finder's scores (0 … 1) on the project's items; the
    suspected_error order serves the highest first."""
    wanted = {s.item_id: s.score for s in scores}
    ids = sorted(wanted)
    found: dict[str, LabelingItem] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(LabelingItem).where(
            LabelingItem.project_id == project.id, LabelingItem.id.in_(ids[start : start + CHUNK])
        )
        found.update((item.id, item) for item in session.execute(query).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            f"{len(missing)} ids are not items of this project (e.g. {missing[0]!r})"
        )
    for item_id, item in found.items():
        item.suspected_error = wanted[item_id]
    audit_change(
        session,
        principal,
        "suspected_errors",
        f"labeling_project:{project.id}",
        items=len(found),
    )
    return len(found)


# --- Reads ----------------------------------------------------------------------------------------


def queue_item(
    project: LabelingProject, item: LabelingItem, lock: LabelingAssignment, *, now: datetime
) -> QueueItem:
    return QueueItem(
        id=item.id,
        project_id=project.id,
        text=item.text,
        why=_why(project, item, now=now),
        locked_until=as_utc(lock.locked_until),
    )


def _why(project: LabelingProject, item: LabelingItem, *, now: datetime) -> str:
    return activelearning.why(
        item,
        order=project.order,
        window_start=activelearning.window_start_of(now, project.drift_window_hours),
        window_hours=project.drift_window_hours,
    )


def list_items(
    session: Session,
    *,
    project: LabelingProject,
    status: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[int, list[ItemReview]]:
    """Items (gold ones included) in the source's order, each with its annotations."""
    query = select(LabelingItem).where(LabelingItem.project_id == project.id)
    if status is not None:
        query = query.where(LabelingItem.status == status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    items = list(
        session.execute(query.order_by(LabelingItem.position).limit(limit).offset(offset)).scalars()
    )
    return total, review(session, project=project, items=items, now=now)


def review(
    session: Session, *, project: LabelingProject, items: Sequence[LabelingItem], now: datetime
) -> list[ItemReview]:
    """Items as reviewers see them: signals, gold and resolved labels, and every answer."""
    answers: dict[str, list[AnnotationOut]] = {item.id: [] for item in items}
    if items:
        rows = session.execute(
            select(LabelingAssignment)
            .where(LabelingAssignment.item_id.in_(list(answers)))
            .order_by(LabelingAssignment.updated_at, LabelingAssignment.id)
        ).scalars()
        for row in rows:
            answers[row.item_id].append(AnnotationOut.model_validate(row))
    return [
        ItemReview(
            id=item.id,
            position=item.position,
            text=item.text,
            status=item.status,
            why=_why(project, item, now=now),
            source_ref=item.source_ref,
            source_label=item.source_label,
            gold_label=item.gold_label,
            model_version=item.model_version,
            predicted_label=item.predicted_label,
            margin=item.margin,
            disagreement=item.disagreement,
            suspected_error=item.suspected_error,
            resolved_label=item.resolved_label,
            resolved_by=item.resolved_by,
            annotations=answers[item.id],
        )
        for item in items
    ]


def agreement(session: Session, *, project: LabelingProject) -> ProjectAgreement:
    """κ, α and per-annotator figures over the project's answers (gold items included)."""
    answers = [
        Answer(item_id=item_id, annotator=annotator, label=label)
        for item_id, annotator, label in session.execute(
            select(
                LabelingAssignment.item_id, LabelingAssignment.annotator, LabelingAssignment.label
            ).where(LabelingAssignment.project_id == project.id, LabelingAssignment.status == DONE)
        ).all()
        if label is not None
    ]
    gold = dict(
        session.execute(
            select(LabelingItem.id, LabelingItem.gold_label).where(
                LabelingItem.project_id == project.id, LabelingItem.gold_label.is_not(None)
            )
        ).all()
    )
    return project_agreement(answers, {k: v for k, v in gold.items() if v is not None})
