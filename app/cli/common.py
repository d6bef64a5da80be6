"""Helpers shared by CLI command modules: settings with flag overrides, one console, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core import db
from sentimentops.core.errors import DomainError
from sentimentops.core.flows import FlowContext
from sentimentops.core.logging import configure_logging
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.identity.service import tenant_by_slug

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def load_settings(**overrides: Any) -> Settings:
    """Settings from env/.env with the non-None CLI flags on top; a bad value exits with its
    message instead of a traceback."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        fail(f"invalid configuration:\n{exc}")
    configure_logging(level=settings.log_level, json=settings.log_json)
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def cli_sessions(settings: Settings) -> sessionmaker[Session]:
    """Session factory on the configured database, for one CLI command."""
    return db.make_session_factory(db.make_engine(settings.resolved_database_url))


@contextmanager
def cli_transaction(settings: Settings) -> Iterator[Session]:
    """One transaction for a CLI command: committed on success; a domain error rolls it back
    and becomes an error message instead of a traceback."""
    try:
        with db.transaction(cli_sessions(settings)) as session:
            yield session
    except DomainError as exc:
        fail(str(exc))


def flow_context(settings: Settings) -> FlowContext:
    """The flows' collaborators for one CLI command (its own engine and Temporal connection)."""
    sessions = cli_sessions(settings)

    async def connect_temporal() -> Client:
        return await connect(settings)

    return FlowContext(
        settings=settings,
        sessions=sessions,
        read_sessions=sessions,
        connect_temporal=connect_temporal,
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """A domain error (a refusal, a conflict, Temporal away…) becomes a message and exit 1."""
    try:
        yield
    except DomainError as exc:
        fail(str(exc))


def run_flow(flow: Coroutine[Any, Any, T]) -> T:
    """Run one async flow, its domain errors turned into a message and exit 1."""
    with domain_errors():
        return asyncio.run(flow)
    raise AssertionError("unreachable")  # for mypy: domain_errors() may swallow


def operator_principal(
    settings: Settings, *, tenant: str, name: str, roles: list[str]
) -> Principal:
    """The operator running the CLI, as the principal the flows check: named by `--as`, holding
    the `--role`s, in `--tenant`. Whoever can run the CLI can read the platform's database, so
    this is the operator's tool; every decision is still checked and audited as through the API
    (an approver is never the proposer, the plan hash must match, cancel needs its policy)."""
    with cli_sessions(settings)() as session:
        row = tenant_by_slug(session, tenant)
    if row is None:
        fail(f"no tenant {tenant!r}")
    try:
        parsed = frozenset(Role(r) for r in roles)
    except ValueError as exc:
        fail(str(exc))
    return Principal(
        tenant_id=row.id,
        tenant=row.slug,
        subject=name,
        name=name,
        kind=PrincipalKind.HUMAN,
        roles=parsed,
        method=AuthMethod.FIRST_PARTY,
    )


TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant (slug) to act in.")]
AsOpt = Annotated[str, typer.Option("--as", help="Who you are (audited).")]
RoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
