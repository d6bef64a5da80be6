"""Agent threads: one row per conversation, owned by a tenant and by the person who started it.
The conversation itself (messages, the draft waiting for a decision) lives in LangGraph's
checkpointer under the thread's id, so it survives an API restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class AgentThread(TenantOwned, Base):
    __tablename__ = "agent_threads"
    __table_args__ = (Index("ix_agent_threads_tenant_creator", "tenant_id", "created_by"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The audit actor of the person who started it; only they post to it.
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
