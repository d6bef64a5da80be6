"""kb_documents: documents tenants upload to their knowledge base (chunks live in Qdrant)

Revision ID: 0009_kb_documents
Revises: 0008_approval_requested_by
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_kb_documents"
down_revision = "0008_approval_requested_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(32),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "sha256", name="uq_kb_documents_tenant_sha"),
    )
    op.create_index("ix_kb_documents_tenant_id", "kb_documents", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("kb_documents")
