"""`sentimentops sentry …`: the deployment sentry that watches a production model. Start and
stop go through the same flows as the API (workflows/flows.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    cli_sessions,
    console,
    flow_context,
    load_settings,
    operator_principal,
    print_json,
    resolve_tenant,
    run_flow,
)
from sentimentops.core.vocabulary import Task

if TYPE_CHECKING:
    from sentimentops.workflows.schemas import SentryOut
    from sentimentops.workflows.sentry import SentryStatus

app = typer.Typer(
    help="The deployment sentry: scheduled checks of a production model, rollback on breach.",
    no_args_is_help=True,
)

TaskOpt = Annotated[Task, typer.Option(help="sentiment or sarcasm")]
OperatorRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]


def _print(state: SentryOut, verb: str) -> None:
    console.print(f"{verb} [bold]{state.workflow_id}[/]", soft_wrap=True)
    if state.workflow_url:
        console.print(f"Temporal web UI: {state.workflow_url}", soft_wrap=True)


@app.command()
def start(
    task: TaskOpt,
    tenant: TenantOpt = None,
    interval: Annotated[float, typer.Option(min=1, help="seconds between checks")] = 300.0,
    window: Annotated[float, typer.Option(min=1, help="seconds of traffic per check")] = 900.0,
    name: AsOpt = "operator",
    roles: OperatorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Start watching TASK's production model (one sentry per tenant and task)."""
    from sentimentops.workflows.flows import start_sentry_flow
    from sentimentops.workflows.schemas import SentryIn

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    body = SentryIn(task=task, interval_seconds=interval, window_seconds=window)
    _print(run_flow(start_sentry_flow(flow_context(settings), principal, body)), "started")


def _print_status(workflow_id: str, status: SentryStatus) -> None:
    console.print(f"[bold]{workflow_id}[/]", soft_wrap=True)
    console.print(f"checks done: {status.checks_done}")
    console.print(f"rollbacks:   {status.rollbacks}")
    if status.last_check is None:
        console.print("last check:  none yet")
        return
    console.print(f"last check:  {status.last_check} ({status.last_status})", soft_wrap=True)
    if status.last_message:
        console.print(f"             {status.last_message}", soft_wrap=True)


@app.command()
def status(task: TaskOpt, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Checks done, the last check's outcome and how many rollbacks the sentry made."""
    from sentimentops.core.errors import temporal_errors
    from sentimentops.workflows.client import sentry_status, sentry_workflow_id

    settings = load_settings()
    with cli_sessions(settings)() as session:
        slug = resolve_tenant(session, tenant).slug
    workflow_id = sentry_workflow_id(slug, task)
    ctx = flow_context(settings)

    async def work() -> SentryStatus:
        client = await ctx.temporal()
        with temporal_errors(f"the sentry for {task} in {slug} ({workflow_id})"):
            return await sentry_status(client, workflow_id)

    found = run_flow(work())
    if as_json:
        print_json({"workflow_id": workflow_id, **found.model_dump(mode="json")})
    else:
        _print_status(workflow_id, found)


@app.command()
def stop(
    task: TaskOpt,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: OperatorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Stop the sentry watching TASK (a check in progress is cancelled with it)."""
    from sentimentops.workflows.flows import stop_sentry_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    _print(run_flow(stop_sentry_flow(flow_context(settings), principal, task)), "stopping")
