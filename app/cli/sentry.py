"""`sentimentops sentry …`: the deployment sentry that watches a production model. Start and
stop go through the same flows as the API (workflows/flows.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    TenantOpt,
    console,
    flow_context,
    load_settings,
    operator_principal,
    run_flow,
)
from sentimentops.core.errors import temporal_errors
from sentimentops.core.temporal import connect
from sentimentops.core.vocabulary import Task
from sentimentops.workflows.client import sentry_status, sentry_workflow_id
from sentimentops.workflows.flows import start_sentry_flow, stop_sentry_flow
from sentimentops.workflows.schemas import SentryIn, SentryOut
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
    tenant: TenantOpt = "default",
    interval: Annotated[float, typer.Option(min=1, help="seconds between checks")] = 300.0,
    window: Annotated[float, typer.Option(min=1, help="seconds of traffic per check")] = 900.0,
    name: AsOpt = "operator",
    roles: OperatorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Start watching TASK's production model (one sentry per tenant and task)."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    body = SentryIn(task=task, interval_seconds=interval, window_seconds=window)
    _print(run_flow(start_sentry_flow(flow_context(settings), principal, body)), "started")


@app.command()
def status(task: TaskOpt, tenant: TenantOpt = "default") -> None:
    """Checks done, the last check's outcome and how many rollbacks the sentry made."""
    settings = load_settings()
    workflow_id = sentry_workflow_id(tenant, task)

    async def work() -> SentryStatus:
        with temporal_errors(f"the sentry for {task} in {tenant} ({workflow_id})"):
            return await sentry_status(await connect(settings), workflow_id)

    console.print(run_flow(work()))


@app.command()
def stop(
    task: TaskOpt,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: OperatorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Stop the sentry watching TASK (a check in progress is cancelled with it)."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    _print(run_flow(stop_sentry_flow(flow_context(settings), principal, task)), "stopping")
