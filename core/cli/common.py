"""Helpers shared by CLI command modules: settings with flag overrides, one console, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core import db
from sentimentops.core.errors import DomainError
from sentimentops.core.logging import configure_logging
from sentimentops.core.settings import Settings

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
