"""prediction log, and the per-tenant opt-in to storing prediction texts

Revision ID: 0003_predictions
Revises: 0002_identity
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_predictions"
down_revision = "0002_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column(
                "store_prediction_texts", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(32),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_alias", sa.String(32), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
    )
    op.create_index("ix_predictions_tenant_id", "predictions", ["tenant_id"])
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index("ix_predictions_text_sha256", "predictions", ["text_sha256"])


def downgrade() -> None:
    op.drop_table("predictions")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("store_prediction_texts")
