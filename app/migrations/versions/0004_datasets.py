"""content-versioned dataset snapshots with lineage

Revision ID: 0004_datasets
Revises: 0003_predictions
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_datasets"
down_revision = "0003_predictions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(32),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("split_counts", sa.JSON(), nullable=False),
        sa.Column("label_balance", sa.JSON(), nullable=False),
        sa.Column(
            "size_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_name", sa.String(255), nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=True),
        sa.Column("parent_ids", sa.JSON(), nullable=False),
        sa.Column("transform", sa.String(64), nullable=False),
        sa.Column("transform_params", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "content_hash", name="uq_dataset_versions_tenant_hash"),
    )
    op.create_index("ix_dataset_versions_tenant_id", "dataset_versions", ["tenant_id"])
    op.create_index("ix_dataset_versions_content_hash", "dataset_versions", ["content_hash"])


def downgrade() -> None:
    op.drop_index("ix_dataset_versions_content_hash", "dataset_versions")
    op.drop_index("ix_dataset_versions_tenant_id", "dataset_versions")
    op.drop_table("dataset_versions")
