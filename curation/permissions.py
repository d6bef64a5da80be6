"""Named permissions of data curation (called first by each flow)."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# The roles that curate datasets (training.datasets.permissions.can_ingest_datasets).
_CURATORS = (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)


def can_read_issues(principal: Principal) -> None:
    """Data issues quote label shares and row ids of the tenant's datasets: curators only."""
    require_role(principal, *_CURATORS)


def can_curate(principal: Principal) -> None:
    """Running the curation of a dataset version (it writes issues and fills queue scores)."""
    require_role(principal, *_CURATORS)
