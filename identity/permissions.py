"""Named permissions: role checks (the OPA policies are core/policy.py and policies/rego). A
handler or flow calls one first; each raises `Forbidden` (HTTP 403, audited by the error path
of the caller) or returns None.

Roles do not imply one another: a platform admin manages tenants but reads no tenant's data
unless it is also bound to a role there, and a tenant admin is not an approver by default
(separation of duties)."""

from __future__ import annotations

from sentimentops.core.errors import Forbidden
from sentimentops.core.vocabulary import Role
from sentimentops.identity.principal import Principal


def require_role(principal: Principal, *roles: Role) -> None:
    """The caller holds at least one of `roles` in its own tenant."""
    if not principal.roles & set(roles):
        names = ", ".join(r.value for r in roles)
        raise Forbidden(f"requires one of the roles: {names}")


def can_manage_tenants(principal: Principal) -> None:
    require_role(principal, Role.PLATFORM_ADMIN)


def can_manage_identities(principal: Principal) -> None:
    """Service accounts, role bindings and API keys of the caller's own tenant."""
    require_role(principal, Role.TENANT_ADMIN)


def can_grant_role(principal: Principal, role: Role) -> None:
    """platform_admin is granted only by a platform admin; every other role by a tenant admin."""
    if role is Role.PLATFORM_ADMIN:
        require_role(principal, Role.PLATFORM_ADMIN)
    else:
        can_manage_identities(principal)
