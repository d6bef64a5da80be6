"""data_issues: schema and label-balance drift between dataset versions, with evidence

Revision ID: 0012_data_issues
Revises: 0011_labeling
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_data_issues"
down_revision = "0011_labeling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_issues",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(32),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dataset_version_id", sa.String(32), nullable=False),
        sa.Column("previous_version_id", sa.String(32), nullable=True),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_data_issues_tenant_id", "data_issues", ["tenant_id"])
    op.create_index("ix_data_issues_dataset_version_id", "data_issues", ["dataset_version_id"])
    op.create_index("ix_data_issues_status", "data_issues", ["status"])
    op.create_index("ix_data_issues_created_at", "data_issues", ["created_at"])


def downgrade() -> None:
    op.drop_table("data_issues")
