"""The data issue table: a record, with evidence, that a dataset version drifted from the one
before it (schema or label balance), opened by the Data Curation agent instead of continuing
silently."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class DataIssue(TenantOwned, Base):
    __tablename__ = "data_issues"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # No foreign keys to dataset_versions: an issue outlives a version deleted later (its
    # evidence keeps the columns and label shares it found).
    dataset_version_id: Mapped[str] = mapped_column(String(32), index=True)
    previous_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task: Mapped[str] = mapped_column(String(32))
    # What drifted: a sorted subset of ["label_balance", "schema"].
    kinds: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open (closing comes with the UI)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    opened_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
