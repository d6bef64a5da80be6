"""Tenant-scoped queries. Every read of a tenant's rows goes through these, so another tenant's
ids behave exactly like ids that do not exist (404, never 403: no existence oracle)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sentimentops.core.errors import NotFound
from sentimentops.identity.models import TenantOwned
from sentimentops.identity.principal import Principal

T = TypeVar("T", bound=TenantOwned)


def owned(model: type[T], principal: Principal) -> Select[T]:
    """`SELECT model WHERE tenant_id = <the caller's tenant>`; add filters to it."""
    return select(model).where(model.tenant_id == principal.tenant_id)


def get_owned(session: Session, model: type[T], ident: Any, principal: Principal) -> T:
    """The caller's row with primary key `ident`, or `NotFound` (also for other tenants' rows)."""
    row = session.get(model, ident)
    if row is None or row.tenant_id != principal.tenant_id:
        name = getattr(model, "__tablename__", model.__name__).rstrip("s").replace("_", " ")
        raise NotFound(f"{name} not found")
    return row
