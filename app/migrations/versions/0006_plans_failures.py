"""plan registry (plan executions per tenant) and failed scoring requests (the error rate)

Revision ID: 0006_plans_failures
Revises: 0005_lifecycle
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_plans_failures"
down_revision = "0005_lifecycle"
branch_labels = None
depends_on = None


def _tenant_id() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "plan_executions",
        sa.Column("id", sa.String(255), primary_key=True),
        _tenant_id(),
        sa.Column("proposer", sa.String(255), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_plan_executions_tenant_id", "plan_executions", ["tenant_id"])
    op.create_index(
        "ix_plan_executions_tenant_created", "plan_executions", ["tenant_id", "created_at"]
    )
    op.create_table(
        "scoring_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        _tenant_id(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("model_alias", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("texts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_scoring_failures_tenant_id", "scoring_failures", ["tenant_id"])
    op.create_index("ix_scoring_failures_created_at", "scoring_failures", ["created_at"])


def downgrade() -> None:
    op.drop_table("scoring_failures")
    op.drop_table("plan_executions")
