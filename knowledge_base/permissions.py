"""Named permissions of the knowledge base API (called first by each flow)."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# Every tenant-level role; platform_admin alone reads no tenant's data (identity.permissions).
_TENANT_ROLES = tuple(r for r in Role if r is not Role.PLATFORM_ADMIN)
# Curating what the agents and everyone else read: the roles that curate datasets. Agents never
# (an agent that could write documents could plant instructions for the next agent).
_CURATORS = (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)


def can_search(principal: Principal) -> None:
    """Searching and the status: anyone in the tenant."""
    require_role(principal, *_TENANT_ROLES)


def can_read_documents(principal: Principal) -> None:
    require_role(principal, *_TENANT_ROLES)


def can_manage_documents(principal: Principal) -> None:
    """Uploading and deleting the tenant's documents."""
    require_role(principal, *_CURATORS)
