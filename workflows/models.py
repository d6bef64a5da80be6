"""The plan registry: one row per plan execution, so a tenant's plans can be listed and read
through the API without asking Temporal's visibility store (and after its retention ends).

Rows are written when a plan starts (by the API, and by the workflow's own first activity for
plans started anywhere else: the CLI, the sentry, an agent) and updated when it finishes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class PlanExecution(TenantOwned, Base):
    __tablename__ = "plan_executions"
    __table_args__ = (Index("ix_plan_executions_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the workflow id
    proposer: Mapped[str] = mapped_column(String(255))
    plan_hash: Mapped[str] = mapped_column(String(64))  # at the start (amendments change it)
    rationale: Mapped[str] = mapped_column(Text)
    tools: Mapped[list[str]] = mapped_column(JSON)
    # running, then the plan's final status (completed | denied | rejected | expired | failed |
    # gate_failed); a plan waiting for approval is "running" here, its progress says more.
    status: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
