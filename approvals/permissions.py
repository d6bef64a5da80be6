"""Named permissions (role checks) of the approvals API (called on a handler's first line)."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# Who may see what waits for approval: the approvers, and the people who propose plans.
READERS = (Role.APPROVER, Role.ML_ENGINEER, Role.TENANT_ADMIN, Role.ANALYST, Role.VIEWER)


def can_read_approvals(principal: Principal) -> None:
    require_role(principal, *READERS)


def can_decide_approvals(principal: Principal) -> None:
    """Only approvers decide; the service adds "never the proposer" and the plan-hash check."""
    require_role(principal, Role.APPROVER)
