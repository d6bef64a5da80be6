"""`sentimentops sentry …`: the deployment sentry that watches a production model."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from sentimentops.core.cli.common import console, fail, load_settings
from sentimentops.core.temporal import connect, workflow_ui_url
from sentimentops.workflows.client import (
    cancel_workflow,
    sentry_status,
    sentry_workflow_id,
    start_sentry,
)

app = typer.Typer(
    help="The deployment sentry: scheduled checks of a production model, rollback on breach.",
    no_args_is_help=True,
)

TaskOpt = Annotated[str, typer.Option(help="sentiment or sarcasm")]
TenantOpt = Annotated[str, typer.Option(help="Tenant (slug) whose traffic is checked.")]


@app.command()
def start(
    task: TaskOpt,
    tenant: TenantOpt = "default",
    interval: Annotated[float, typer.Option(min=1, help="seconds between checks")] = 300.0,
    window: Annotated[float, typer.Option(min=1, help="seconds of traffic per check")] = 900.0,
) -> None:
    """Start watching TASK's production model (one sentry per tenant and task)."""
    settings = load_settings()

    async def go() -> str:
        client = await connect(settings)
        return await start_sentry(
            client, settings, tenant=tenant, task=task,
            interval_seconds=interval, window_seconds=window,
        )  # fmt: skip

    try:
        workflow_id = asyncio.run(go())
    except WorkflowAlreadyStartedError:
        fail(f"a sentry already watches {task} for {tenant}: {sentry_workflow_id(tenant, task)}")
    except (RuntimeError, RPCError) as exc:
        fail(f"could not start the sentry in Temporal: {exc}")
    console.print(f"started [bold]{workflow_id}[/]")
    if url := workflow_ui_url(settings, workflow_id):
        console.print(f"Temporal web UI: {url}")


@app.command()
def status(task: TaskOpt, tenant: TenantOpt = "default") -> None:
    """Checks done, the last check's outcome and how many rollbacks the sentry made."""
    settings = load_settings()

    async def go() -> object:
        client = await connect(settings)
        return await sentry_status(client, sentry_workflow_id(tenant, task))

    try:
        result = asyncio.run(go())
    except (RuntimeError, RPCError) as exc:
        fail(f"no sentry for {task} in {tenant} (or Temporal is away): {exc}")
    console.print(result)


@app.command()
def stop(task: TaskOpt, tenant: TenantOpt = "default") -> None:
    """Stop the sentry watching TASK (a check in progress is cancelled with it)."""
    settings = load_settings()
    workflow_id = sentry_workflow_id(tenant, task)

    async def go() -> None:
        await cancel_workflow(await connect(settings), workflow_id)

    try:
        asyncio.run(go())
    except (RuntimeError, RPCError) as exc:
        fail(f"no running sentry for {task} in {tenant} (or Temporal is away): {exc}")
    console.print(f"stopping [bold]{workflow_id}[/]")
