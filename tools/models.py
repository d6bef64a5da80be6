"""Tables the tools keep: idempotent tool results, the promotion history that rollbacks read,
and the per-tenant canary shares that the scoring service applies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.core.identity.models import TenantOwned


class ToolRun(Base):
    """The stored output of one tool call, keyed by "<tenant>:<idempotency key>": a retried or
    repeated call with the same key returns this instead of doing the work again."""

    __tablename__ = "tool_runs"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(63))
    actor: Mapped[str] = mapped_column(String(255))
    workflow_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PromotionEvent(Base):
    """One move of a registry alias. The registry (and so this history) is platform-wide: every
    tenant is served by the same production model; `tenant` names who moved it."""

    __tablename__ = "model_promotions"
    __table_args__ = (Index("ix_model_promotions_model_alias", "model_name", "alias", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(255))
    alias: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # "promote" | "rollback"
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: alias removed
    previous_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(255))
    tenant: Mapped[str] = mapped_column(String(63))
    workflow_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CanaryShare(TenantOwned, Base):
    """Share of a tenant's requests for `task` that the staging model answers."""

    __tablename__ = "canary_shares"
    __table_args__ = (UniqueConstraint("tenant_id", "task", name="uq_canary_shares_tenant_task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(32))
    share: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
