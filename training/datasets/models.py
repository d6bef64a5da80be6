"""The dataset version table: one immutable Parquet snapshot per row, named by its content hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class DatasetVersion(TenantOwned, Base):
    """A snapshot's metadata and lineage. The rows live in data_dir/datasets/<content_hash>.parquet;
    the same content is one version per tenant (re-ingesting it returns this row)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "content_hash", name="uq_dataset_versions_tenant_hash"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    task: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # [{"name": ..., "dtype": ...}] in column order.
    schema: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(Integer)
    # {"train": n, ...}; {"all": n} before the data is split.
    split_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    # {"<label name>": n} over all rows.
    label_balance: Mapped[dict[str, int]] = mapped_column(JSON)
    size_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    # The raw file the chain started from (copied to derived versions, so each names its origin).
    source_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_ids: Mapped[list[str]] = mapped_column(JSON)
    transform: Mapped[str] = mapped_column(String(64))
    transform_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
