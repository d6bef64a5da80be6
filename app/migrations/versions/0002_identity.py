"""identity: tenants, service accounts, role bindings, API keys, signing keys, bootstrap tokens

Revision ID: 0002_identity
Revises: 0001_audit_log
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_identity"
down_revision = "0001_audit_log"
branch_labels = None
depends_on = None


def _tenant_fk() -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(32),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def _service_account_fk() -> sa.Column[str]:
    return sa.Column(
        "service_account_id",
        sa.String(32),
        sa.ForeignKey("service_accounts.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("rate_limit_per_second", sa.Float(), nullable=True),
        sa.Column("rate_limit_burst", sa.Integer(), nullable=True),
    )
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant_fk(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_secret_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("tenant_id", "name", name="uq_service_accounts_tenant_name"),
    )
    op.create_index("ix_service_accounts_tenant_id", "service_accounts", ["tenant_id"])
    op.create_table(
        "role_bindings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant_fk(),
        _service_account_fk(),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("service_account_id", "role", name="uq_role_bindings_role"),
    )
    op.create_index("ix_role_bindings_tenant_id", "role_bindings", ["tenant_id"])
    op.create_index("ix_role_bindings_service_account_id", "role_bindings", ["service_account_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant_fk(),
        _service_account_fk(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_index("ix_api_keys_service_account_id", "api_keys", ["service_account_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_signing_keys_status", "signing_keys", ["status"])
    op.create_table(
        "bootstrap_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("bootstrap_tokens")
    op.drop_index("ix_signing_keys_status", "signing_keys")
    op.drop_table("signing_keys")
    op.drop_index("ix_api_keys_service_account_id", "api_keys")
    op.drop_index("ix_api_keys_tenant_id", "api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_role_bindings_service_account_id", "role_bindings")
    op.drop_index("ix_role_bindings_tenant_id", "role_bindings")
    op.drop_table("role_bindings")
    op.drop_index("ix_service_accounts_tenant_id", "service_accounts")
    op.drop_table("service_accounts")
    op.drop_table("tenants")
