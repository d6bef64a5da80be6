"""Named permissions (role checks) of the plans API (called on a handler's first line). They say
who may talk to the plans API at all; OPA still decides every step of every plan."""

from __future__ import annotations

from sentimentops.core.errors import Forbidden
from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# Who proposes plans: the roles whose tools change models (policy data: role_tools).
PROPOSERS = (Role.ML_ENGINEER, Role.TENANT_ADMIN, Role.AGENT)
READERS = (*PROPOSERS, Role.APPROVER, Role.ANALYST, Role.VIEWER)


def can_read_plans(principal: Principal) -> None:
    require_role(principal, *READERS)


def can_propose_plans(principal: Principal) -> None:
    require_role(principal, *PROPOSERS)


def _is_proposer(principal: Principal, proposer: str) -> bool:
    return proposer in (principal.actor, principal.subject)


def can_amend_plan(principal: Principal, proposer: str) -> None:
    """Only the plan's proposer: anyone else could add a step and then approve it themselves,
    which separation of duties forbids."""
    if not _is_proposer(principal, proposer):
        raise Forbidden("only the proposer of a plan may amend it")


def can_cancel_plan(principal: Principal, proposer: str) -> None:
    """The proposer, or a tenant admin (a stuck plan must be stoppable when its author is away;
    cancelling only ever stops work)."""
    if not (_is_proposer(principal, proposer) or principal.has_role(Role.TENANT_ADMIN)):
        raise Forbidden("only the proposer of a plan or a tenant admin may cancel it")
