"""Feedback and labeling tables: feedback from applications, labeling projects, their items, and
each annotator's lock or answer on an item. Every row is tenant-owned (identity.tenancy)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class Feedback(TenantOwned, Base):
    """Feedback "this prediction was wrong, the label is X" from an application.
    `idempotency_key` is unique per tenant: a retried item finds its first row instead of adding
    one."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_feedback_tenant_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    task: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Kept only for tenants that store prediction texts (the prediction log's rule).
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The logged prediction this feedback is about (predictions.id), when one was found; no
    # foreign key: the prediction log is pruned independently of feedback.
    prediction_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), nullable=True
    )
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    predicted_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LabelingProject(TenantOwned, Base):
    __tablename__ = "labeling_projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    task: Mapped[str] = mapped_column(String(32))
    labels: Mapped[list[str]] = mapped_column(JSON)
    guidelines: Mapped[str] = mapped_column(Text)
    # Subjects of the accounts that may annotate (principal.subject).
    annotators: Mapped[list[str]] = mapped_column(JSON)
    items_per_annotator: Mapped[int | None] = mapped_column(Integer, nullable=True)
    overlap: Mapped[int] = mapped_column(Integer)
    order: Mapped[str] = mapped_column(String(32))
    drift_window_hours: Mapped[int] = mapped_column(Integer)
    source_kind: Mapped[str] = mapped_column(String(16))  # dataset | feedback | predictions
    source_dataset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    item_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The dataset versions exported from this project, oldest first.
    exports: Mapped[list[str]] = mapped_column(JSON)


class LabelingItem(TenantOwned, Base):
    """One text to label and the signals that place it in the queue."""

    __tablename__ = "labeling_items"
    __table_args__ = (
        UniqueConstraint("project_id", "position", name="uq_labeling_items_project_position"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("labeling_projects.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # the source's order
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    # Where the text came from: a dataset row id, a feedback id or a prediction id.
    source_ref: Mapped[str] = mapped_column(String(128))
    source_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gold_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Active-learning signals (labeling/activelearning.py); NULL when unknown.
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    predicted_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    margin: Mapped[float | None] = mapped_column(Float, nullable=True)
    disagreement: Mapped[bool] = mapped_column(Boolean)
    disagreement_note: Mapped[str | None] = mapped_column(String(512), nullable=True)
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Filled by an external label-error finder (the Data Curation agent, later).
    suspected_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | conflict | resolved
    resolved_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class LabelingAssignment(TenantOwned, Base):
    """An annotator's hold on an item: a lock until `locked_until`, then an answer or a skip.

    `slot` (0 … overlap-1) is what makes "never beyond the overlap" hold under concurrency: two
    annotators taking the same free slot collide on the unique constraint, and the loser tries
    the next slot or item. Skips and gold items hold no slot (NULL is never equal)."""

    __tablename__ = "labeling_assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "annotator", name="uq_labeling_assignments_annotator"),
        UniqueConstraint("item_id", "slot", name="uq_labeling_assignments_slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("labeling_projects.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("labeling_items.id", ondelete="CASCADE"), index=True
    )
    annotator: Mapped[str] = mapped_column(String(128))
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # locked | done | skipped
    # The lock's end; kept after an answer or a skip (the status says whether it holds).
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
