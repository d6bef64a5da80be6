"""The Slack app's tables: which workspace is which tenant, which Slack user is which platform
account, which Slack thread is which agent thread, and the messages whose status it keeps
current."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class SlackWorkspace(TenantOwned, Base):
    """A Slack workspace (team) acts for exactly one tenant; its notices go to `channel_id`."""

    __tablename__ = "slack_workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackUserLink(TenantOwned, Base):
    """A Slack user of a workspace acts as this platform account, and only as it."""

    __tablename__ = "slack_user_links"

    team_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("slack_workspaces.team_id", ondelete="CASCADE"), primary_key=True
    )
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("service_accounts.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackThread(TenantOwned, Base):
    """A Slack thread (team, channel, root message ts) is one agent thread."""

    __tablename__ = "slack_threads"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent_thread_id: Mapped[str] = mapped_column(String(32), unique=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))  # who started it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackMessage(TenantOwned, Base):
    """A message the app keeps current as its plan moves: an approval request (buttons) or a
    submitted draft. `blocks` is the message without its status line, which the updater
    renders anew; `status_text` is the line last sent, so an unchanged status sends nothing.
    The notice of a plan that ended is recorded too (done at once), so it is posted once."""

    __tablename__ = "slack_messages"
    __table_args__ = (Index("ix_slack_messages_open", "done", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # approval | plan (a submitted draft) | finished (an ended plan, announced; never updated)
    kind: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[str] = mapped_column(String(255), index=True)
    approval_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(String(3000))  # the notification fallback text
    status_text: Mapped[str] = mapped_column(String(3000), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
