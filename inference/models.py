"""The prediction log: one row per served prediction, for monitoring, drift and feedback.
Texts are stored only for tenants that opted in; the hash is always kept (joins feedback).
Failed scoring requests are logged beside it, so the error rate is known to the tools."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class PredictionRecord(TenantOwned, Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    task: Mapped[str] = mapped_column(String(32))
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(64))
    model_alias: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    text_sha256: Mapped[str] = mapped_column(String(64), index=True)
    text_chars: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)


class ScoringFailure(TenantOwned, Base):
    """A scoring request the service could not answer (no model loaded, the runtime failed):
    the other side of the error rate. Client errors (invalid input, quotas) are not failures."""

    __tablename__ = "scoring_failures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    task: Mapped[str] = mapped_column(String(32))
    # Unknown when no model was serving the task.
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_alias: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))  # no_model | runtime_error
    texts: Mapped[int] = mapped_column(Integer)


class CanaryShare(TenantOwned, Base):
    """Share of a tenant's requests for `task` that the staging model answers."""

    __tablename__ = "canary_shares"
    __table_args__ = (UniqueConstraint("tenant_id", "task", name="uq_canary_shares_tenant_task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(32))
    share: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
