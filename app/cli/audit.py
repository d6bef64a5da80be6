"""`sentimentops audit …`: verify the hash chain, read recent events."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sentimentops.app.cli.common import cli_sessions, console, fail, load_settings
from sentimentops.core.audit import service as audit

app = typer.Typer(help="Inspect and verify the append-only audit log.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Re-compute the hash chain; name every edited, deleted, reordered or truncated row."""
    settings = load_settings()
    sessions = cli_sessions(settings)
    with sessions() as session:
        report = audit.verify_chain(session)
    if report.ok:
        console.print(f"[green]audit log intact[/]: {report.checked} rows verified")
        return
    for problem in report.problems:
        console.print(f"[red]{problem.kind}[/] {problem.message}")
    fail(f"audit log verification failed: {len(report.problems)} problem(s) found")


@app.command()
def tail(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many events.")] = 20,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
) -> None:
    """Show the newest audit events."""
    settings = load_settings()
    sessions = cli_sessions(settings)
    with sessions() as session:
        events = audit.recent(session, limit=limit, tenant=tenant)
    table = Table("seq", "time (UTC)", "actor", "tenant", "action", "resource", "outcome")
    for e in reversed(events):
        table.add_row(
            str(e.seq),
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.tenant,
            e.action,
            e.resource,
            e.outcome,
        )
    console.print(table)
