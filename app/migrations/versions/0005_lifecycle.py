"""ML-ops lifecycle: tool results (idempotency), promotion history, canary shares, approvals

Revision ID: 0005_lifecycle
Revises: 0004_datasets
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lifecycle"
down_revision = "0004_datasets"
branch_labels = None
depends_on = None


def _tenant_id() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "tool_runs",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_model_promotions_model_alias", "model_promotions", ["model_name", "alias", "id"]
    )
    op.create_table(
        "canary_shares",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant_id(),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "task", name="uq_canary_shares_tenant_task"),
    )
    op.create_index("ix_canary_shares_tenant_id", "canary_shares", ["tenant_id"])
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant_id(),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("requester", sa.String(255), nullable=False),
        sa.Column("requester_kind", sa.String(16), nullable=False),
        sa.Column("required_role", sa.String(32), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_approval_requests_tenant_id", "approval_requests", ["tenant_id"])
    op.create_index("ix_approval_requests_workflow_id", "approval_requests", ["workflow_id"])
    op.create_index(
        "ix_approval_requests_tenant_status", "approval_requests", ["tenant_id", "status"]
    )


def downgrade() -> None:
    op.drop_table("approval_requests")
    op.drop_table("canary_shares")
    op.drop_index("ix_model_promotions_model_alias", table_name="model_promotions")
    op.drop_table("model_promotions")
    op.drop_table("tool_runs")
