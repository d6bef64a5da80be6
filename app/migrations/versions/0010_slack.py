"""slack: workspace ↔ tenant, Slack user ↔ account, Slack thread ↔ agent thread, tracked messages

Revision ID: 0010_slack
Revises: 0009_kb_documents
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_slack"
down_revision = "0009_kb_documents"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "slack_workspaces",
        sa.Column("team_id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_workspaces_tenant_id", "slack_workspaces", ["tenant_id"])
    op.create_table(
        "slack_user_links",
        sa.Column(
            "team_id",
            sa.String(32),
            sa.ForeignKey("slack_workspaces.team_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column(
            "account_id",
            sa.String(32),
            sa.ForeignKey("service_accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_user_links_tenant_id", "slack_user_links", ["tenant_id"])
    op.create_index("ix_slack_user_links_account_id", "slack_user_links", ["account_id"])
    op.create_table(
        "slack_threads",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("thread_ts", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("agent_thread_id", sa.String(32), nullable=False, unique=True),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_threads_tenant_id", "slack_threads", ["tenant_id"])
    op.create_table(
        "slack_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=True),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("text", sa.String(3000), nullable=False),
        sa.Column("status_text", sa.String(3000), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_messages_tenant_id", "slack_messages", ["tenant_id"])
    op.create_index("ix_slack_messages_workflow_id", "slack_messages", ["workflow_id"])
    op.create_index("ix_slack_messages_approval_id", "slack_messages", ["approval_id"])
    op.create_index("ix_slack_messages_open", "slack_messages", ["done", "updated_at"])


def downgrade() -> None:
    op.drop_table("slack_messages")
    op.drop_table("slack_threads")
    op.drop_table("slack_user_links")
    op.drop_table("slack_workspaces")
