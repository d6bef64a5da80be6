"""labeling: feedback, labeling projects, their items and annotators' locks and answers

Revision ID: 0011_labeling
Revises: 0010_slack
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_labeling"
down_revision = "0010_slack"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _project() -> sa.Column[str]:
    return sa.Column(
        "project_id",
        sa.String(32),
        sa.ForeignKey("labeling_projects.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column(
            "prediction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("predicted_label", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_feedback_tenant_key"),
    )
    op.create_index("ix_feedback_tenant_id", "feedback", ["tenant_id"])
    op.create_index("ix_feedback_text_sha256", "feedback", ["text_sha256"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])

    op.create_table(
        "labeling_projects",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=False),
        sa.Column("annotators", sa.JSON(), nullable=False),
        sa.Column("items_per_annotator", sa.Integer(), nullable=True),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("order", sa.String(32), nullable=False),
        sa.Column("drift_window_hours", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_dataset_id", sa.String(32), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exports", sa.JSON(), nullable=False),
    )
    op.create_index("ix_labeling_projects_tenant_id", "labeling_projects", ["tenant_id"])

    op.create_table(
        "labeling_items",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(),
        _project(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("source_label", sa.String(64), nullable=True),
        sa.Column("gold_label", sa.String(64), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("predicted_label", sa.String(64), nullable=True),
        sa.Column("margin", sa.Float(), nullable=True),
        sa.Column("disagreement", sa.Boolean(), nullable=False),
        sa.Column("disagreement_note", sa.String(512), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspected_error", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_label", sa.String(64), nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("project_id", "position", name="uq_labeling_items_project_position"),
    )
    op.create_index("ix_labeling_items_tenant_id", "labeling_items", ["tenant_id"])
    op.create_index("ix_labeling_items_project_id", "labeling_items", ["project_id"])
    op.create_index("ix_labeling_items_status", "labeling_items", ["status"])

    op.create_table(
        "labeling_assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant(),
        _project(),
        sa.Column(
            "item_id",
            sa.String(32),
            sa.ForeignKey("labeling_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("annotator", sa.String(128), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("time_spent_ms", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_id", "annotator", name="uq_labeling_assignments_annotator"),
        sa.UniqueConstraint("item_id", "slot", name="uq_labeling_assignments_slot"),
    )
    op.create_index("ix_labeling_assignments_tenant_id", "labeling_assignments", ["tenant_id"])
    op.create_index("ix_labeling_assignments_project_id", "labeling_assignments", ["project_id"])
    op.create_index("ix_labeling_assignments_item_id", "labeling_assignments", ["item_id"])
    op.create_index("ix_labeling_assignments_updated_at", "labeling_assignments", ["updated_at"])


def downgrade() -> None:
    op.drop_table("labeling_assignments")
    op.drop_table("labeling_items")
    op.drop_table("labeling_projects")
    op.drop_table("feedback")
