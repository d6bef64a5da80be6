"""agent threads (the conversation state is in LangGraph's checkpointer, keyed by thread id)

Revision ID: 0007_agent_threads
Revises: 0006_plans_failures
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_agent_threads"
down_revision = "0006_plans_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_threads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(32),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_threads_tenant_id", "agent_threads", ["tenant_id"])
    op.create_index("ix_agent_threads_tenant_creator", "agent_threads", ["tenant_id", "created_by"])


def downgrade() -> None:
    op.drop_table("agent_threads")
