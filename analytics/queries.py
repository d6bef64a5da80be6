"""The analytics SQL, one SQLAlchemy statement per question, for SQLite and PostgreSQL alike.
Every statement aggregates in the database and returns at most (series × buckets) rows, so a
million logged predictions never travel to Python.

A *labelled prediction* is a logged prediction whose right label is known:
- from labeling: a resolved item of a project of the same task with the same text (SHA-256)
  labels every logged prediction of that text; texts that resolved projects labelled
  differently are left out (no single right label);
- from feedback: the prediction a feedback row was linked to when it was submitted
  (labeling/service.py links feedback by text hash and version to one prediction); predictions
  whose feedback disagrees are left out, and a text labelled by a project takes the project's
  label (reviewed) over feedback (one application's say)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Subquery,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from sentimentops.inference.models import PredictionRecord, ScoringFailure
from sentimentops.labeling.models import Feedback, LabelingItem, LabelingProject

# labeling/service.py's status of an item whose label is decided.
RESOLVED = "resolved"
# Score histogram: 100 bins of 0.01 (KS is read at their edges; PSI merges them into the
# detect_drift tool's ten).
SCORE_BINS = 100


@dataclass(frozen=True)
class Scope:
    """Whose predictions, of which task, created in [since, until)."""

    tenant_id: str
    task: str
    since: datetime
    until: datetime


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def bucket_of(column: Any, bucket: str, dialect: str) -> ColumnElement[Any]:
    """The start of the hour or day `column` falls in (UTC). SQLite stores times as ISO text
    ('YYYY-MM-DD HH:MM:SS…', always UTC here), so a prefix is the bucket and sorts like it."""
    if dialect == "sqlite":
        return func.substr(column, 1, 13 if bucket == "hour" else 10)
    return func.date_trunc(bucket, func.timezone("UTC", column))


def parse_bucket(value: str | datetime) -> datetime:
    """A bucket_of value as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    fmt = "%Y-%m-%d %H" if len(value) == 13 else "%Y-%m-%d"
    return datetime.strptime(value, fmt).replace(tzinfo=UTC)


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    return [
        PredictionRecord.tenant_id == scope.tenant_id,
        PredictionRecord.task == scope.task,
        PredictionRecord.created_at >= scope.since,
        PredictionRecord.created_at < scope.until,
    ]


def _project_labels(scope: Scope) -> Subquery:
    """(text_sha256, label) of every text resolved projects of the task agree on."""
    return (
        select(
            LabelingItem.text_sha256.label("sha"),
            func.min(LabelingItem.resolved_label).label("truth"),
        )
        .join(LabelingProject, LabelingProject.id == LabelingItem.project_id)
        .where(
            LabelingItem.tenant_id == scope.tenant_id,
            LabelingProject.tenant_id == scope.tenant_id,
            LabelingProject.task == scope.task,
            LabelingItem.status == RESOLVED,
            LabelingItem.resolved_label.is_not(None),
        )
        .group_by(LabelingItem.text_sha256)
        .having(func.count(func.distinct(LabelingItem.resolved_label)) == 1)
        .subquery("project_labels")
    )


def _feedback_labels(scope: Scope) -> Subquery:
    """(prediction_id, label) of every linked prediction whose feedback agrees."""
    return (
        select(
            Feedback.prediction_id.label("prediction_id"),
            func.min(Feedback.label).label("truth"),
        )
        .where(
            Feedback.tenant_id == scope.tenant_id,
            Feedback.task == scope.task,
            Feedback.prediction_id.is_not(None),
        )
        .group_by(Feedback.prediction_id)
        .having(func.count(func.distinct(Feedback.label)) == 1)
        .subquery("feedback_labels")
    )


def labelled_predictions(
    scope: Scope,
    *,
    version: str | None = None,
    aliases: tuple[str, ...] | None = None,
) -> Subquery:
    """Labelled predictions in scope: model_version, model_alias, created_at, text_sha256,
    predicted, truth, source ("labeling" | "feedback")."""
    conditions = _in_scope(scope)
    if version is not None:
        conditions.append(PredictionRecord.model_version == version)
    if aliases is not None:
        conditions.append(PredictionRecord.model_alias.in_(aliases))
    projects = _project_labels(scope)
    feedback = _feedback_labels(scope)
    columns = (
        PredictionRecord.model_version,
        PredictionRecord.model_alias,
        PredictionRecord.created_at,
        PredictionRecord.text_sha256,
        PredictionRecord.label.label("predicted"),
    )
    by_project = (
        select(*columns, projects.c.truth, literal("labeling").label("source"))
        .join(projects, projects.c.sha == PredictionRecord.text_sha256)
        .where(*conditions)
    )
    by_feedback = (
        select(*columns, feedback.c.truth, literal("feedback").label("source"))
        .join(feedback, feedback.c.prediction_id == PredictionRecord.id)
        .where(*conditions, PredictionRecord.text_sha256.not_in(select(projects.c.sha)))
    )
    return union_all(by_project, by_feedback).subquery("labelled")


def _correct(labelled: Subquery) -> ColumnElement[int]:
    return func.sum(case((labelled.c.predicted == labelled.c.truth, 1), else_=0))


def confusion_counts(scope: Scope, *, version: str | None) -> Select[str, str, str, str, int]:
    """(model_version, truth, predicted, source, count)."""
    labelled = labelled_predictions(scope, version=version)
    keys = (labelled.c.model_version, labelled.c.truth, labelled.c.predicted, labelled.c.source)
    return select(*keys, func.count()).group_by(*keys)


def accuracy_counts(
    scope: Scope, *, bucket: str, dialect: str, version: str | None
) -> Select[str, str | datetime, int, int]:
    """(model_version, bucket start, labelled, correct)."""
    labelled = labelled_predictions(scope, version=version)
    start = bucket_of(labelled.c.created_at, bucket, dialect).label("start")
    return select(labelled.c.model_version, start, func.count(), _correct(labelled)).group_by(
        labelled.c.model_version, start
    )


def volume_counts(
    *, tenant_id: str, task: str | None, since: datetime, until: datetime, bucket: str, dialect: str
) -> Select[str, str, str, str | datetime, str, int]:
    """(task, model_version, model_alias, bucket start, label, predictions)."""
    conditions = [
        PredictionRecord.tenant_id == tenant_id,
        PredictionRecord.created_at >= since,
        PredictionRecord.created_at < until,
    ]
    if task is not None:
        conditions.append(PredictionRecord.task == task)
    start = bucket_of(PredictionRecord.created_at, bucket, dialect).label("start")
    keys = (
        PredictionRecord.task,
        PredictionRecord.model_version,
        PredictionRecord.model_alias,
        start,
        PredictionRecord.label,
    )
    return select(*keys, func.count()).where(*conditions).group_by(*keys)


def failure_counts(
    *, tenant_id: str, task: str | None, since: datetime, until: datetime, bucket: str, dialect: str
) -> Select[str, str | None, str | datetime, int]:
    """(task, model_alias, bucket start, failed texts)."""
    conditions = [
        ScoringFailure.tenant_id == tenant_id,
        ScoringFailure.created_at >= since,
        ScoringFailure.created_at < until,
    ]
    if task is not None:
        conditions.append(ScoringFailure.task == task)
    start = bucket_of(ScoringFailure.created_at, bucket, dialect).label("start")
    keys = (ScoringFailure.task, ScoringFailure.model_alias, start)
    return select(*keys, func.sum(ScoringFailure.texts)).where(*conditions).group_by(*keys)


def served_counts(scope: Scope, aliases: tuple[str, ...]) -> Select[str, str, int]:
    """(model_alias, model_version, predictions) of the given aliases."""
    keys = (PredictionRecord.model_alias, PredictionRecord.model_version)
    return (
        select(*keys, func.count())
        .where(*_in_scope(scope), PredictionRecord.model_alias.in_(aliases))
        .group_by(*keys)
    )


def labelled_by_alias(scope: Scope, aliases: tuple[str, ...]) -> Select[str, int, int]:
    """(model_alias, labelled, correct), counting each version's answer on a text once: a model
    answers a text the same way every time, so a popular text scored a thousand times is one
    piece of evidence, not a thousand (counting repeats would make a significance test see
    differences that are not there)."""
    labelled = labelled_predictions(scope, aliases=aliases)
    answers = (
        select(
            labelled.c.model_alias,
            labelled.c.model_version,
            labelled.c.text_sha256,
            labelled.c.predicted,
            labelled.c.truth,
        )
        .distinct()
        .subquery("answers")
    )
    return select(answers.c.model_alias, func.count(), _correct(answers)).group_by(
        answers.c.model_alias
    )


def latency_at_rank(scope: Scope, alias: str, rank: int) -> Select[float]:
    """The alias's `rank`-th smallest latency (0-based): a nearest-rank percentile that SQLite
    and PostgreSQL answer the same way (SQLite has no percentile function)."""
    return (
        select(PredictionRecord.latency_ms)
        .where(*_in_scope(scope), PredictionRecord.model_alias == alias)
        .order_by(PredictionRecord.latency_ms)
        .offset(rank)
        .limit(1)
    )


def failed_by_alias(scope: Scope, aliases: tuple[str, ...]) -> Select[str | None, int]:
    """(model_alias, failed texts)."""
    return (
        select(ScoringFailure.model_alias, func.sum(ScoringFailure.texts))
        .where(
            ScoringFailure.tenant_id == scope.tenant_id,
            ScoringFailure.task == scope.task,
            ScoringFailure.created_at >= scope.since,
            ScoringFailure.created_at < scope.until,
            ScoringFailure.model_alias.in_(aliases),
        )
        .group_by(ScoringFailure.model_alias)
    )


def _score_bin(dialect: str) -> ColumnElement[int]:
    """floor(probability × SCORE_BINS); 1.0 joins the last bin (numpy.histogram's last bin is
    closed too). SQLite's CAST truncates, which is floor for probabilities; PostgreSQL's rounds,
    so it floors first (SQLite has floor() only when built with its math functions)."""
    scaled = PredictionRecord.probability * SCORE_BINS
    whole = cast(func.floor(scaled) if dialect == "postgresql" else scaled, Integer)
    return case((PredictionRecord.probability >= 1.0, SCORE_BINS - 1), else_=whole)


def _length_bin(edges: list[float]) -> ColumnElement[int]:
    """The bin of text_chars among `edges` (bins [e_i, e_i+1), the last one closed)."""
    inner = edges[1:-1]
    return case(
        *((PredictionRecord.text_chars < edge, i) for i, edge in enumerate(inner)),
        else_=len(inner),
    )


def score_histogram(scope: Scope, *, dialect: str) -> Select[str | datetime, int, int, float]:
    """(day, score bin, predictions, sum of scores)."""
    day = bucket_of(PredictionRecord.created_at, "day", dialect).label("day")
    score = _score_bin(dialect).label("bin")
    return (
        select(day, score, func.count(), func.sum(PredictionRecord.probability))
        .where(*_in_scope(scope))
        .group_by(day, score)
    )


def length_histogram(
    scope: Scope, *, dialect: str, edges: list[float]
) -> Select[str | datetime, int, int, int]:
    """(day, text-length bin, predictions, sum of text lengths)."""
    day = bucket_of(PredictionRecord.created_at, "day", dialect).label("day")
    length = _length_bin(edges).label("bin")
    return (
        select(day, length, func.count(), func.sum(PredictionRecord.text_chars))
        .where(*_in_scope(scope))
        .group_by(day, length)
    )
