"""Request and response bodies of the identity API. Secrets appear only in the `*Created` and
`*Credentials` bodies returned once, at creation or rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentimentops.core.vocabulary import Role
from sentimentops.identity.keys import as_utc
from sentimentops.identity.models import ApiKey, ServiceAccount, Tenant
from sentimentops.identity.principal import Principal

NameStr = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


class _In(BaseModel):
    # Unknown fields are refused so that a typo ("role" for "roles") is an error, not a no-op.
    model_config = ConfigDict(extra="forbid")


class TenantCreate(_In):
    slug: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
    display_name: str | None = Field(default=None, max_length=255)
    # When given, a tenant_admin service account of this name is created with the tenant and its
    # client credentials are returned once.
    admin_name: NameStr | None = None


class TenantUpdate(_In):
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    disabled: bool | None = None
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=1_000_000)
    rate_limit_burst: int | None = Field(default=None, ge=1, le=10_000_000)
    # Keep scored texts in the prediction log (semantic search over them needs them).
    store_prediction_texts: bool | None = None


class TenantOut(BaseModel):
    id: str
    slug: str
    display_name: str
    created_at: datetime
    disabled: bool
    rate_limit_per_second: float | None
    rate_limit_burst: int | None
    store_prediction_texts: bool

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            display_name=tenant.display_name,
            created_at=as_utc(tenant.created_at),
            disabled=tenant.disabled,
            rate_limit_per_second=tenant.rate_limit_per_second,
            rate_limit_burst=tenant.rate_limit_burst,
            store_prediction_texts=tenant.store_prediction_texts,
        )


class ServiceAccountCreate(_In):
    name: NameStr
    kind: Literal["service", "agent"] = "service"
    roles: list[Role] = Field(default_factory=list, max_length=len(Role))


class ServiceAccountOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    kind: str
    roles: list[Role]
    created_at: datetime
    disabled: bool

    @classmethod
    def of(cls, account: ServiceAccount, roles: frozenset[Role]) -> ServiceAccountOut:
        return cls(
            id=account.id,
            tenant_id=account.tenant_id,
            name=account.name,
            kind=account.kind,
            roles=sorted(roles),
            created_at=as_utc(account.created_at),
            disabled=account.disabled_at is not None,
        )


class ServiceAccountCredentials(BaseModel):
    """Shown once: the client secret cannot be read back, only rotated."""

    account: ServiceAccountOut
    client_id: str
    client_secret: str
    token_endpoint: str = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret


class TenantCreated(BaseModel):
    tenant: TenantOut
    admin: ServiceAccountCredentials | None = None


class ApiKeyCreate(_In):
    name: NameStr
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    service_account_id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            service_account_id=key.service_account_id,
            name=key.name,
            prefix=key.prefix,
            created_at=as_utc(key.created_at),
            expires_at=_utc_or_none(key.expires_at),
            last_used_at=_utc_or_none(key.last_used_at),
            revoked=key.revoked_at is not None,
        )


class ApiKeyCreated(BaseModel):
    """Shown once: the key itself is stored only as a hash."""

    key: ApiKeyOut
    api_key: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - RFC 6750 token type
    expires_in: int


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class WhoAmI(BaseModel):
    tenant_id: str
    tenant: str
    subject: str
    name: str
    kind: str
    roles: list[Role]
    method: str
    issuer: str | None

    @classmethod
    def of(cls, principal: Principal) -> WhoAmI:
        return cls(
            tenant_id=principal.tenant_id,
            tenant=principal.tenant,
            subject=principal.subject,
            name=principal.name,
            kind=principal.kind.value,
            roles=sorted(principal.roles),
            method=principal.method.value,
            issuer=principal.issuer,
        )


class BootstrapRequest(_In):
    bootstrap_token: str = Field(min_length=1, max_length=512)
    name: NameStr = "platform-admin"
