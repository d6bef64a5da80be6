"""Tenant-scoped queries. Every read of a tenant's rows goes through these, so another tenant's
ids behave exactly like ids that do not exist (404, never 403: no existence oracle)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.identity.models import Tenant, TenantOwned
from sentimentops.identity.principal import Principal

T = TypeVar("T", bound=TenantOwned)


def tenant_id_of(session: Session, slug: str, *, known: str | None = None) -> str:
    """The id of the tenant `slug` names (NotFound when none does). Plans, tool calls and audit
    rows name their tenant by slug, which never changes once created (identity/service.py
    update_tenant cannot set it); rows a tenant owns are keyed by this id. `known` is the id a
    plan's proposer carries inward (core.policy.Principal.tenant_id): then nothing is looked
    up; only workflow histories recorded before it was carried come here without one."""
    if known is not None:
        return known
    found = session.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar()
    if found is None:
        raise NotFound(f"tenant {slug!r} not found")
    return str(found)


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


# How many of an ambiguous prefix's matches an error names.
PREFIX_MATCHES_SHOWN = 10


def owned_id_by_prefix(
    session: Session, model: type[T], ref: str, principal: Principal, *, what: str
) -> str:
    """The primary key of the caller's row that is `ref`, or else the only one starting with
    `ref` (people copy the start of the ids the CLI prints). Several matches are `InvalidInput`
    naming them; none is `NotFound`, and other tenants' rows never match (as in get_owned)."""
    key = inspect(model).primary_key[0]
    mine = model.tenant_id == principal.tenant_id
    exact = session.execute(select(key).where(mine, key == ref)).scalar()
    if exact is not None:
        return str(exact)
    query = select(key).where(mine, key.startswith(ref, autoescape=True)).order_by(key)
    matches = [str(m) for m in session.execute(query.limit(PREFIX_MATCHES_SHOWN + 1)).scalars()]
    if not matches:
        raise NotFound(f"{what} not found")
    if len(matches) > 1:
        shown = ", ".join(matches[:PREFIX_MATCHES_SHOWN])
        more = ", …" if len(matches) > PREFIX_MATCHES_SHOWN else ""
        raise InvalidInput(f"{ref!r} matches several {what}s ({shown}{more}); give more of the id")
    return matches[0]
