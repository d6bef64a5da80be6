"""Imports every table module so that Base.metadata is complete (Alembic and tests use this)."""

from sentimentops.core.audit.models import AuditChainHead, AuditEvent

__all__ = ["AuditChainHead", "AuditEvent"]
