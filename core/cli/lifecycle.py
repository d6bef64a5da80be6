"""`sentimentops lifecycle start`, `plan run`, `workflows list|show|cancel` and `rollback`: start,
watch and stop plan executions in Temporal. Every command prints the workflow's web UI link."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from temporalio.service import RPCError

from sentimentops.core.audit import service as audit
from sentimentops.core.cli.common import cli_transaction, console, fail, load_settings
from sentimentops.core.policy import Principal
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect, workflow_ui_url
from sentimentops.workflows.client import (
    cancel_workflow,
    lifecycle_plan,
    list_plans,
    plan_progress,
    rollback_plan,
    start_plan,
)
from sentimentops.workflows.schemas import Plan, PlanProgress

lifecycle_app = typer.Typer(help="The model lifecycle as a durable workflow.", no_args_is_help=True)
plan_app = typer.Typer(help="Run plans of typed tool calls.", no_args_is_help=True)
workflows_app = typer.Typer(help="Plan executions in Temporal.", no_args_is_help=True)

TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant (slug) the plan acts for.")]
AsOpt = Annotated[str, typer.Option("--as", help="Who proposes the plan (audited).")]
RoleOpt = Annotated[list[str], typer.Option("--role", help="The proposer's roles.")]


def _print_started(settings: Settings, workflow_id: str) -> None:
    console.print(f"started [bold]{workflow_id}[/]")
    url = workflow_ui_url(settings, workflow_id)
    if url:
        console.print(f"Temporal web UI: {url}")


async def _start(settings: Settings, plan: Plan) -> str:
    client = await connect(settings)
    return await start_plan(client, settings, plan)


def _run_plan(settings: Settings, plan: Plan) -> None:
    try:
        workflow_id = asyncio.run(_start(settings, plan))
    except (RuntimeError, RPCError) as exc:
        fail(f"could not start the plan in Temporal ({settings.resolved_temporal_address}): {exc}")
    _print_started(settings, workflow_id)


@lifecycle_app.command("start")
def lifecycle_start(
    task: Annotated[str, typer.Option(help="sentiment or sarcasm")],
    family: Annotated[str, typer.Option(help="model family")] = "tfidf_lr",
    max_train_samples: Annotated[
        int | None, typer.Option(min=2, help="train on a random subset of this size")
    ] = None,
    soak_seconds: Annotated[
        float | None, typer.Option(min=0, help="canary soak [env: LIFECYCLE_SOAK_SECONDS]")
    ] = None,
    canary_share: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    tenant: TenantOpt = "default",
    proposer: AsOpt = "operator",
    roles: RoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Validate → train → evaluate → compare → staging → canary → soak → production (approval)."""
    settings = load_settings()
    if task not in ("sentiment", "sarcasm"):
        fail("--task must be sentiment or sarcasm")
    plan = lifecycle_plan(
        tenant=tenant,
        proposer=Principal(subject=proposer, kind="human", roles=roles, tenant=tenant),
        task=task,
        family=family,
        max_train_samples=max_train_samples,
        soak_seconds=settings.lifecycle_soak_seconds if soak_seconds is None else soak_seconds,
        canary_share=settings.lifecycle_canary_share if canary_share is None else canary_share,
        approval_timeout_seconds=settings.approval_ttl_seconds,
    )
    _run_plan(settings, plan)


@plan_app.command("run")
def plan_run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="plan JSON")],
) -> None:
    """Start the plan in FILE (JSON: tenant, proposer, rationale, steps)."""
    settings = load_settings()
    try:
        plan = Plan.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        fail(f"{file} is not a valid plan:\n{exc}")
    _run_plan(settings, plan)


def rollback(
    task: Annotated[str, typer.Option(help="sentiment or sarcasm")],
    alias: Annotated[str, typer.Option(help="production or staging")] = "production",
    steps: Annotated[int, typer.Option(min=1, help="how many versions back")] = 1,
    tenant: TenantOpt = "default",
    proposer: AsOpt = "operator",
    roles: RoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Roll a task's alias back to the previous version (a one-step plan, policy-checked)."""
    settings = load_settings()
    plan = rollback_plan(
        tenant=tenant,
        proposer=Principal(subject=proposer, kind="human", roles=roles, tenant=tenant),
        task=task,
        alias=alias,
        steps=steps,
    )
    _run_plan(settings, plan)


@workflows_app.command("list")
def workflows_list(limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """The newest plan executions."""
    settings = load_settings()

    async def work() -> list[tuple[str, str, str]]:
        return await list_plans(await connect(settings), limit=limit)

    try:
        rows = asyncio.run(work())
    except (RuntimeError, RPCError) as exc:
        fail(f"Temporal did not answer: {exc}")
    table = Table("workflow", "status", "started (UTC)", "web UI")
    for workflow_id, status, started in rows:
        table.add_row(workflow_id, status, started, workflow_ui_url(settings, workflow_id) or "-")
    console.print(table)


def print_progress(settings: Settings, progress: PlanProgress) -> None:
    console.print(f"[bold]{progress.workflow_id}[/]  status: [bold]{progress.status}[/]")
    console.print(f"tenant {progress.tenant}, proposed by {progress.proposer}")
    console.print(f"plan hash {progress.plan_hash}")
    if progress.message:
        console.print(progress.message)
    table = Table("#", "tool", "status", "approval", "detail")
    for step in progress.steps:
        detail = step.error or "; ".join(step.policy_reasons)
        if step.result and not detail:
            detail = json.dumps(step.result, default=str)[:120]
        label = (
            f"{step.index}" if step.fallback_of is None else f"{step.index} (↩{step.fallback_of})"
        )
        table.add_row(label, step.tool, step.status, step.approval_id or "", detail)
    console.print(table)
    url = workflow_ui_url(settings, progress.workflow_id)
    if url:
        console.print(f"Temporal web UI: {url}")


@workflows_app.command("show")
def workflows_show(workflow_id: str) -> None:
    """Progress of one plan execution: each step's policy decision, approval and result."""
    settings = load_settings()

    async def work() -> PlanProgress:
        return await plan_progress(await connect(settings), workflow_id)

    try:
        progress = asyncio.run(work())
    except (RuntimeError, RPCError) as exc:
        fail(f"cannot read {workflow_id}: {exc}")
    print_progress(settings, progress)


@workflows_app.command("cancel")
def workflows_cancel(workflow_id: str, actor: AsOpt = "operator") -> None:
    """Stop a plan: the approval it waits for is closed and it ends as cancelled (audited)."""
    settings = load_settings()

    async def work() -> PlanProgress:
        client = await connect(settings)
        progress = await plan_progress(client, workflow_id)
        if progress.status not in ("running", "waiting_approval"):
            fail(f"{workflow_id} already ended ({progress.status})")
        await cancel_workflow(client, workflow_id)
        return progress

    try:
        progress = asyncio.run(work())
    except (RuntimeError, RPCError) as exc:
        fail(f"cannot cancel {workflow_id}: {exc}")
    with cli_transaction(settings) as session:
        audit.record(
            session, actor=actor, tenant=progress.tenant, action="plan.cancel",
            resource=f"workflow/{workflow_id}", outcome="requested",
        )  # fmt: skip
    console.print(f"cancelling [bold]{workflow_id}[/]; `workflows show` follows it")
