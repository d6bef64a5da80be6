"""Identity tables. Secrets are never stored: client secrets, API keys and bootstrap tokens are
kept as SHA-256 hashes (they are high-entropy random strings, so a slow KDF adds nothing), and
signing keys' private halves are encrypted with a key derived from settings.secret_key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sentimentops.core.db import Base


class TenantOwned:
    """Mixin for every row that belongs to one tenant; `identity.tenancy` scopes queries by
    this column, so a row of another tenant is indistinguishable from a missing one."""

    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-tenant overrides of settings.rate_limit_*; NULL means the platform default.
    rate_limit_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Prediction texts are stored only for tenants that opt in (hashes always are).
    store_prediction_texts: Mapped[bool] = mapped_column(Boolean, default=False)


class ServiceAccount(TenantOwned, Base):
    """A service account (kind "service" or "agent"). Its id is the OAuth2 client_id."""

    __tablename__ = "service_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_service_accounts_tenant_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    client_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RoleBinding(TenantOwned, Base):
    __tablename__ = "role_bindings"
    __table_args__ = (UniqueConstraint("service_account_id", "role", name="uq_role_bindings_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_account_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("service_accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(TenantOwned, Base):
    """`so_<prefix>_<secret>`: the prefix is public and indexed for lookup, the whole key is
    hashed."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_account_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("service_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SigningKey(Base):
    """A JWT signing key pair. status: "current" (signs), "previous" (verifies, published),
    "retired" (neither; kept for the record)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class BootstrapToken(Base):
    __tablename__ = "bootstrap_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
