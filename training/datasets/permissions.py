"""Named permissions (role checks) of the dataset API."""

from __future__ import annotations

from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal
from sentimentops.core.vocabulary import Role

# Every tenant-level role; platform_admin alone reads no tenant's data (identity.permissions).
_TENANT_ROLES = tuple(r for r in Role if r is not Role.PLATFORM_ADMIN)


def can_read_datasets(principal: Principal) -> None:
    """Auditing a model's inputs is open to anyone in the tenant."""
    require_role(principal, *_TENANT_ROLES)


def can_ingest_datasets(principal: Principal) -> None:
    """Curating data: analysts, ML engineers and tenant admins."""
    require_role(principal, Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)
