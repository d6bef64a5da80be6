"""`sentimentops audit …`: verify the hash chain, read recent events and the chain head."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sentimentops.app.cli.common import (
    JsonOpt,
    cli_sessions,
    console,
    fail,
    load_settings,
    print_json,
)

app = typer.Typer(help="Inspect and verify the append-only audit log.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Re-compute the hash chain; name every edited, deleted, reordered or truncated row."""
    from sentimentops.core.audit import service as audit

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
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant's events (the label audit rows carry).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the newest audit events, then the chain head (newest row and its hash): export that
    hash to a system outside the database to anchor the chain (docs/security.md)."""
    from rich.table import Table

    from sentimentops.core.audit import service as audit
    from sentimentops.core.audit.models import AuditChainHead

    settings = load_settings()
    sessions = cli_sessions(settings)
    with sessions() as session:
        events = list(reversed(audit.recent(session, limit=limit, tenant=tenant)))
        # The chain is one for all tenants: its head is shown whatever --tenant filters.
        head = session.get(AuditChainHead, 1)
    if as_json:
        out: dict[str, Any] = {
            "events": [
                {
                    "seq": e.seq,
                    "occurred_at": e.occurred_at,
                    "actor": e.actor,
                    "tenant": e.tenant,
                    "action": e.action,
                    "resource": e.resource,
                    "outcome": e.outcome,
                    "trace_id": e.trace_id,
                    "details": e.details,
                    "row_hash": e.row_hash,
                }
                for e in events
            ],
            "chain_head": None if head is None else {"seq": head.last_seq, "hash": head.last_hash},
        }
        print_json(out)
        return
    table = Table("seq", "time (UTC)", "actor", "tenant", "action", "resource", "outcome")
    for column in table.columns[2:6]:
        column.overflow = "fold"  # wrapped, never cut: each event is read in full
    for e in events:
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
    if head is None:
        # Migrations create it; only tampering removes it (`audit verify` says what happened).
        fail("the audit chain head row is missing; run `sentimentops audit verify`")
    else:
        console.print(f"chain head: row {head.last_seq} sha256 {head.last_hash}", soft_wrap=True)
