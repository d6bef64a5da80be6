"""approval requests name who asked the agent for the plan (approval policy may refuse them)

Revision ID: 0008_approval_requested_by
Revises: 0007_agent_threads
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_approval_requested_by"
down_revision = "0007_agent_threads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("requested_by")
