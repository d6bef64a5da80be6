"""Helpers shared by CLI command modules: settings with flag overrides, one console, errors, the
operator's tenant and principal, JSON output and a clean exit.

Every `sentimentops` invocation imports this module and every command module, even for
`--help`, so the module level imports only Typer, Rich and the vocabulary: the database,
Temporal, the flows and the settings class are imported inside the functions that use them
(tests/app/test_cli_imports.py checks the heavy libraries stay out)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Coroutine, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from sentimentops.core.errors import DomainError
from sentimentops.core.vocabulary import PrincipalKind, Role

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy.orm import Session, sessionmaker
    from temporalio.client import Client

    from sentimentops.core.flows import FlowContext
    from sentimentops.core.settings import Settings
    from sentimentops.identity.models import Tenant
    from sentimentops.identity.principal import Principal

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def load_settings(**overrides: Any) -> Settings:
    """Settings from env/.env with the non-None CLI flags on top; a bad value exits with its
    message instead of a traceback."""
    from pydantic import ValidationError

    from sentimentops.core.logging import configure_logging
    from sentimentops.core.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        fail(f"invalid configuration:\n{exc}")
    configure_logging(level=settings.log_level, json=settings.log_json)
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    from rich.markup import escape

    # Escaped: messages quote user input and regexes, whose [brackets] Rich would eat as markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def cli_sessions(settings: Settings) -> sessionmaker[Session]:
    """Session factory on the configured database, for one CLI command."""
    from sentimentops.core import db

    return db.make_session_factory(db.make_engine(settings.resolved_database_url))


@contextmanager
def cli_transaction(settings: Settings) -> Iterator[Session]:
    """One transaction for a CLI command: committed on success; a domain error rolls it back
    and becomes an error message instead of a traceback."""
    from sentimentops.core import db

    try:
        with db.transaction(cli_sessions(settings)) as session:
            yield session
    except DomainError as exc:
        fail(str(exc))


def flow_context(settings: Settings) -> FlowContext:
    """The flows' collaborators for one CLI command (its own engine and Temporal connection)."""
    from sentimentops.core.flows import FlowContext
    from sentimentops.core.temporal import connect

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
    import asyncio  # not at the top: a large import that `--help` and `status` never use

    with domain_errors():
        return asyncio.run(flow)
    raise AssertionError("unreachable")  # for mypy: domain_errors() may swallow


# --- The operator's tenant ----------------------------------------------------------------------

PLATFORM_TENANT = "platform"  # identity.service.PLATFORM_TENANT, without importing SQLAlchemy


def resolve_tenant(session: Session, slug: str | None) -> Tenant:
    """The tenant a command acts in: `--tenant` when given (it must exist), else the only tenant
    besides `platform` (bootstrap always creates `platform`, which holds the platform admins and
    no tenant's data). Anything else is an error naming the tenants, before any work starts."""
    from sentimentops.identity import service as identity

    if slug is not None:
        tenant = identity.tenant_by_slug(session, slug)
        if tenant is None:
            known = ", ".join(t.slug for t in identity.list_tenants(session)) or "none"
            fail(f"no tenant {slug!r} (tenants: {known})")
        return tenant
    tenants = [t for t in identity.list_tenants(session) if t.slug != PLATFORM_TENANT]
    if not tenants:
        fail("no tenant exists; create one with `sentimentops admin create-tenant SLUG`")
    if len(tenants) > 1:
        fail(f"several tenants exist; pass --tenant ({', '.join(t.slug for t in tenants)})")
    return tenants[0]


def operator_principal(
    settings: Settings, *, tenant: str | None, name: str, roles: list[str]
) -> Principal:
    """The operator running the CLI, as the principal the flows check: named by `--as`, holding
    the `--role`s, in the tenant `resolve_tenant` picks. Whoever can run the CLI can read the
    platform's database, so this is the operator's tool; every decision is still checked and
    audited as through the API (an approver is never the proposer, the plan hash must match,
    cancel needs its policy)."""
    with cli_sessions(settings)() as session:
        row = resolve_tenant(session, tenant)
        return principal_in(row.id, row.slug, name=name, roles=roles)


def principal_in(tenant_id: str, tenant: str, *, name: str, roles: list[str]) -> Principal:
    """A human operator principal of `tenant`; an unknown role name is an error message."""
    from sentimentops.identity.principal import AuthMethod, Principal

    try:
        parsed = frozenset(Role(r) for r in roles)
    except ValueError as exc:
        fail(str(exc))
    return Principal(
        tenant_id=tenant_id,
        tenant=tenant,
        subject=name,
        name=name,
        kind=PrincipalKind.HUMAN,
        roles=parsed,
        method=AuthMethod.FIRST_PARTY,
    )


TenantOpt = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="Tenant (slug) to act in (default: the only tenant besides `platform`).",
        show_default=False,
    ),
]
AsOpt = Annotated[str, typer.Option("--as", help="Who you are (audited).")]
RoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of text.")]


# --- Output ---------------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    """`value` (pydantic models, lists and dicts of them, datetimes) as indented JSON on stdout,
    written plainly: Rich would wrap long lines and colour it."""
    from pydantic_core import to_jsonable_python

    sys.stdout.write(json.dumps(to_jsonable_python(value), indent=2, ensure_ascii=False) + "\n")


def id_table(*columns: str, ids: Iterable[str], title: str | None = None) -> Table:
    """A table whose first column holds ids people copy into other commands: never wrapped nor
    cut short with an ellipsis (the other columns give way on a narrow terminal)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    width = max((len(i) for i in ids), default=len(columns[0]))
    table.add_column(columns[0], no_wrap=True, min_width=width)
    for column in columns[1:]:
        table.add_column(column)
    return table


# --- Leaving the process ------------------------------------------------------------------------


def exit_process(code: int | str | None) -> NoReturn:
    """End the CLI process with `code`. Once Temporal's Rust bridge is loaded its Tokio threads
    outlive the command, and one of them may take the GIL while the interpreter finalizes:
    `Fatal Python error: PyGILState_Release … Aborted`, at random (temporalio/sdk-python#300,
    open). So then, after flushing the logs and both streams, the process ends with os._exit,
    which skips finalization and cannot race those threads; otherwise it exits normally."""
    if "temporalio.bridge.temporal_sdk_bridge" not in sys.modules:
        sys.exit(code)
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`| head`): there is nothing more to write.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
