"""Entry point of the `sentimentops` command."""

from __future__ import annotations

import asyncio

import typer
import uvicorn

from sentimentops import __version__
from sentimentops.core.cli import admin, audit, db, doctor, platform
from sentimentops.core.cli.common import console, load_settings
from sentimentops.training import cli as training_cli

app = typer.Typer(
    name="sentimentops",
    help="SentimentOps: sentiment and sarcasm scoring with a durable, policy-gated ML lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(platform.up)
app.command()(platform.down)
app.command()(platform.status)
app.command()(doctor.doctor)
app.add_typer(admin.app, name="admin")
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")
app.command()(training_cli.train)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"sentimentops {__version__}")


@app.command()
def worker() -> None:
    """Run a Temporal worker (started for you by `up`)."""
    from sentimentops.workflows.worker import run_worker

    asyncio.run(run_worker(load_settings()))


@app.command()
def api() -> None:
    """Run the HTTP API (started for you by `up`)."""
    from sentimentops.core.api.app import create_app

    settings = load_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # keep our structured logging
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
