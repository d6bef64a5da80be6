"""Documents a tenant uploaded to its knowledge base. The row keeps the text (what is indexed),
so a re-index never needs the original file; the chunks live in Qdrant under `upload:<id>`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base
from sentimentops.identity.models import TenantOwned


class KbDocument(TenantOwned, Base):
    __tablename__ = "kb_documents"
    # The same content uploaded twice is one document (the second upload answers the first).
    __table_args__ = (UniqueConstraint("tenant_id", "sha256", name="uq_kb_documents_tenant_sha"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
