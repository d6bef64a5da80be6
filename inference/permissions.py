"""Named permissions (role checks) of the scoring service."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal


def can_score(principal: Principal) -> None:
    """Scoring is the product: any role in the tenant may call it (quotas bound the volume)."""
    require_role(principal, *Role)


def can_read_metrics(principal: Principal) -> None:
    """Metrics carry every tenant's name and volume: platform operators only."""
    require_role(principal, Role.PLATFORM_ADMIN)
