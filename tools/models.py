"""Tables the tools keep: idempotent tool results and the promotion history that rollbacks read.
(The canary shares that set_canary writes belong to the scoring service: inference/models.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base


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
