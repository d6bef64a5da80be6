"""Who is calling: roles, principal kinds and the authenticated principal of a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sentimentops.core.vocabulary import PrincipalKind, Role


class AuthMethod(StrEnum):
    FIRST_PARTY = "first_party"  # JWT from POST /api/v1/auth/token
    OIDC = "oidc"  # JWT of an external identity provider
    API_KEY = "api_key"


def parse_roles(values: object) -> frozenset[Role]:
    """Known role names from a claim value (a list or a space-separated string); others dropped."""
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, list | tuple | set | frozenset):
        return frozenset()
    known = {r.value for r in Role}
    return frozenset(Role(v) for v in values if isinstance(v, str) and v in known)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `tenant_id` scopes every query it makes."""

    tenant_id: str
    tenant: str  # the tenant's slug, for humans and the audit log
    subject: str  # service account id, or the identity provider's `sub`
    name: str
    kind: PrincipalKind
    roles: frozenset[Role]
    method: AuthMethod
    issuer: str | None = None  # set for OIDC principals

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.method is AuthMethod.OIDC:
            return f"{self.kind.value}:{self.issuer}#{self.subject}"
        return f"{self.kind.value}:{self.subject}"

    def has_role(self, role: Role) -> bool:
        return role in self.roles
