"""Data issues and the comparisons behind them: plain functions over a session (the flow owns
the transaction). pandas-free, so the API imports it without the training extra."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.curation.models import DataIssue
from sentimentops.curation.schemas import Drift, Suspect
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned
from sentimentops.labeling.models import LabelingItem, LabelingProject
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.datasets.schemas import ValidationReport

OPEN = "open"
MAX_SUMMARY_CHARS = 4000


def previous_version(session: Session, *, version: DatasetVersion) -> DatasetVersion | None:
    """The tenant's newest version of the same dataset (name and task) made before `version`:
    what "the previous version" means for drift."""
    query = (
        select(DatasetVersion)
        .where(
            DatasetVersion.tenant_id == version.tenant_id,
            DatasetVersion.name == version.name,
            DatasetVersion.task == version.task,
            DatasetVersion.id != version.id,
            DatasetVersion.created_at <= version.created_at,
        )
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def _shares(balance: dict[str, int]) -> dict[str, float]:
    total = sum(balance.values())
    return {label: 100.0 * n / total for label, n in balance.items()} if total else {}


def compare(previous: DatasetVersion, version: DatasetVersion, *, threshold_points: float) -> Drift:
    """Schema drift (columns added, removed or retyped) and label-balance drift (a label's share
    moved more than `threshold_points` percentage points) from `previous` to `version`."""
    before = {c["name"]: c["dtype"] for c in previous.schema}
    after = {c["name"]: c["dtype"] for c in version.schema}
    retyped = {
        name: {"before": before[name], "after": after[name]}
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    }
    old, new = _shares(previous.label_balance), _shares(version.label_balance)
    shares = {
        label: {
            "before": round(old.get(label, 0.0), 2),
            "after": round(new.get(label, 0.0), 2),
            "change": round(new.get(label, 0.0) - old.get(label, 0.0), 2),
        }
        for label in sorted(old.keys() | new.keys())
    }
    drift = Drift(
        previous_version_id=previous.id,
        columns_added=sorted(after.keys() - before.keys()),
        columns_removed=sorted(before.keys() - after.keys()),
        columns_retyped=retyped,
        label_shares=shares,
        threshold_points=threshold_points,
    )
    kinds = []
    if any(abs(s["change"]) > threshold_points for s in shares.values()):
        kinds.append("label_balance")
    if drift.columns_added or drift.columns_removed or retyped:
        kinds.append("schema")
    drift.kinds = kinds
    return drift


def drift_sentences(drift: Drift) -> list[str]:
    """The drift in plain words, one sentence per finding."""
    lines = []
    if drift.columns_added:
        lines.append("Columns added: " + ", ".join(drift.columns_added) + ".")
    if drift.columns_removed:
        lines.append("Columns removed: " + ", ".join(drift.columns_removed) + ".")
    for name, types in drift.columns_retyped.items():
        lines.append(f"Column {name} changed type from {types['before']} to {types['after']}.")
    for label, share in drift.label_shares.items():
        if abs(share["change"]) > drift.threshold_points:
            lines.append(
                f"The share of label {label} moved from {share['before']:.1f} % to "
                f"{share['after']:.1f} % ({share['change']:+.1f} points; the limit is "
                f"{drift.threshold_points:g})."
            )
    return lines


def validation_sentences(report: ValidationReport) -> list[str]:
    """Great Expectations' failures in plain words, one sentence each, with an example row."""
    lines = []
    for failure in report.failures:
        sentence = f"{failure.unexpected_count} rows break the rule: {failure.rule}"
        if failure.column:
            sentence += f" (column {failure.column})"
        if failure.observed:
            sentence += f"; observed {failure.observed}"
        if failure.examples:
            example = failure.examples[0]
            where = f"row {example.row}" if example.row is not None else "for example"
            sentence += f"; {where}: {example.value!r}"
        lines.append(sentence + ".")
    return lines


def open_issue(
    session: Session,
    *,
    principal: Principal,
    version: DatasetVersion,
    drift: Drift,
    now: datetime,
) -> tuple[DataIssue, bool]:
    """A data issue for a version that drifted (drift.kinds non-empty), with the drift as
    evidence; audited. Returns (issue, created): curating the version again finds the open
    issue about the same drift instead of opening a second one."""
    existing = session.execute(
        owned(DataIssue, principal).where(
            DataIssue.dataset_version_id == version.id,
            DataIssue.previous_version_id == drift.previous_version_id,
            DataIssue.status == OPEN,
        )
    ).scalars()
    for found in existing:
        if found.kinds == drift.kinds:
            return found, False
    summary = (
        f"Dataset {version.name} ({version.task}) version {version.id} drifted from version "
        f"{drift.previous_version_id}: " + " ".join(drift_sentences(drift))
    )[:MAX_SUMMARY_CHARS]
    issue = DataIssue(
        id=uuid.uuid4().hex,
        tenant_id=version.tenant_id,
        dataset_version_id=version.id,
        previous_version_id=drift.previous_version_id,
        task=version.task,
        kinds=list(drift.kinds),
        status=OPEN,
        summary=summary,
        evidence=drift.model_dump(mode="json"),
        opened_by=principal.actor,
        created_at=now,
    )
    session.add(issue)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="data_issue.open",
        resource=f"data_issue:{issue.id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"dataset_version": version.id, "kinds": issue.kinds},
    )
    return issue, True


def list_issues(
    session: Session, *, principal: Principal, status: str | None, limit: int
) -> list[DataIssue]:
    query = owned(DataIssue, principal)
    if status is not None:
        query = query.where(DataIssue.status == status)
    query = query.order_by(DataIssue.created_at.desc(), DataIssue.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def get_issue(session: Session, *, principal: Principal, issue_id: str) -> DataIssue:
    return get_owned(session, DataIssue, issue_id, principal)


def prioritise(
    session: Session, *, principal: Principal, version: DatasetVersion, suspects: Sequence[Suspect]
) -> int:
    """Fill the suspected-error score of the items that are suspects, in the tenant's labeling
    projects over `version` (their `suspected_error` order then serves them first). Returns how
    many items got a score."""
    from sentimentops.labeling import service as labeling
    from sentimentops.labeling.schemas import SuspectedError

    scores = {s.row_id: s.score for s in suspects}
    projects = session.execute(
        owned(LabelingProject, principal).where(LabelingProject.source_dataset_id == version.id)
    ).scalars()
    updated = 0
    for project in projects:
        rows = session.execute(
            select(LabelingItem.id, LabelingItem.source_ref).where(
                LabelingItem.project_id == project.id,
                LabelingItem.source_ref.in_(list(scores)),
            )
        ).all()
        if rows:
            updated += labeling.set_suspected_errors(
                session,
                principal=principal,
                project=project,
                scores=[SuspectedError(item_id=i, score=scores[ref]) for i, ref in rows],
            )
    return updated
