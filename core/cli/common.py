"""Helpers shared by CLI command modules: settings with flag overrides, one console, errors."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

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
