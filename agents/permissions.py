"""Named permissions of the agents API (called on a handler's first line). Who may talk to an
agent, and who may turn its draft into a plan; OPA and approvals still decide every step."""

from __future__ import annotations

from sentimentops.core.errors import Forbidden
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# Anyone who may read the tenant's telemetry may ask; agents never talk to agents (a loop of
# agents proposing to each other would have no person in it).
CHATTERS = (
    Role.VIEWER,
    Role.ANALYST,
    Role.APPROVER,
    Role.ML_ENGINEER,
    Role.TENANT_ADMIN,
)
# Submitting starts a plan: the roles that may propose plans themselves.
SUBMITTERS = (Role.ML_ENGINEER, Role.TENANT_ADMIN)


def can_chat(principal: Principal) -> None:
    if principal.kind is PrincipalKind.AGENT or principal.has_role(Role.AGENT):
        raise Forbidden("agents cannot start or join agent threads")
    require_role(principal, *CHATTERS)


def can_submit_drafts(principal: Principal) -> None:
    can_chat(principal)
    require_role(principal, *SUBMITTERS)
