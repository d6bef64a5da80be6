"""Imports every table module so that Base.metadata is complete (Alembic and tests use this)."""

from sentimentops.core.audit.models import AuditChainHead, AuditEvent
from sentimentops.core.identity.models import (
    ApiKey,
    BootstrapToken,
    RoleBinding,
    ServiceAccount,
    SigningKey,
    Tenant,
)
from sentimentops.inference.models import PredictionRecord

__all__ = [
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "BootstrapToken",
    "PredictionRecord",
    "RoleBinding",
    "ServiceAccount",
    "SigningKey",
    "Tenant",
]
