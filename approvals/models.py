"""Approval requests: one per plan step that policy says needs a human, bound to the plan hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class ApprovalRequest(TenantOwned, Base):
    __tablename__ = "approval_requests"
    __table_args__ = (Index("ix_approval_requests_tenant_status", "tenant_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255), index=True)
    plan_hash: Mapped[str] = mapped_column(String(64))
    step_index: Mapped[int] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The proposer of the plan: never allowed to approve it.
    requester: Mapped[str] = mapped_column(String(255))
    requester_kind: Mapped[str] = mapped_column(String(16))
    # Who asked the agent that proposed the plan (an audit actor), when one did.
    requested_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    required_role: Mapped[str] = mapped_column(String(32))
    rationale: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(JSON)  # why policy asked for an approval
    # pending | approved | rejected | expired | superseded (the plan changed)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
