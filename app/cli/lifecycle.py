"""`sentimentops lifecycle start`, `plan run`, `workflows list|show|cancel` and `rollback`: start,
watch and stop plan executions. Starting and cancelling go through the same flows as the API
(workflows/flows.py), as the operator named by `--as` with the `--role`s given. Every command
prints the workflow's web UI link."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from sentimentops.app.cli.common import (
    AsOpt,
    TenantOpt,
    console,
    fail,
    flow_context,
    load_settings,
    operator_principal,
    run_flow,
)
from sentimentops.core.errors import temporal_errors
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect, workflow_ui_url
from sentimentops.core.vocabulary import Alias, Task
from sentimentops.workflows.client import list_plans, plan_progress
from sentimentops.workflows.flows import (
    cancel_plan_flow,
    propose_plan_flow,
    start_lifecycle_flow,
    start_rollback_flow,
)
from sentimentops.workflows.schemas import (
    LifecycleIn,
    PlanAccepted,
    PlanIn,
    PlanProgress,
    RollbackIn,
)

lifecycle_app = typer.Typer(help="The model lifecycle as a durable workflow.", no_args_is_help=True)
plan_app = typer.Typer(help="Run plans of typed tool calls.", no_args_is_help=True)
workflows_app = typer.Typer(help="Plan executions in Temporal.", no_args_is_help=True)

ProposerRoleOpt = Annotated[list[str], typer.Option("--role", help="The proposer's roles.")]


def _print_started(settings: Settings, accepted: PlanAccepted) -> None:
    console.print(f"started [bold]{accepted.workflow_id}[/]", soft_wrap=True)
    console.print(f"plan hash {accepted.plan_hash}", soft_wrap=True)
    if accepted.workflow_url:
        console.print(f"Temporal web UI: {accepted.workflow_url}", soft_wrap=True)


@lifecycle_app.command("start")
def lifecycle_start(
    task: Annotated[Task, typer.Option(help="sentiment or sarcasm")],
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
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Validate → train → evaluate → compare → staging → canary → soak → production (approval)."""
    settings = load_settings()
    try:
        body = LifecycleIn(
            task=task,
            family=family,  # validated here, with its message
            max_train_samples=max_train_samples,
            soak_seconds=soak_seconds,
            canary_share=canary_share,
        )
    except ValidationError as exc:
        fail(f"invalid lifecycle:\n{exc}")
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    accepted = run_flow(start_lifecycle_flow(flow_context(settings), principal, body))
    _print_started(settings, accepted)


@plan_app.command("run")
def plan_run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="plan JSON")],
    tenant: TenantOpt = "default",
    proposer: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Start the plan in FILE (JSON: rationale, steps, optional approval_timeout_seconds; the
    body of POST /api/v1/plans) for --tenant, proposed by --as."""
    settings = load_settings()
    try:
        body = PlanIn.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        fail(f"{file} is not a valid plan:\n{exc}")
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    accepted = run_flow(propose_plan_flow(flow_context(settings), principal, body))
    _print_started(settings, accepted)


def rollback(
    task: Annotated[Task, typer.Option(help="sentiment or sarcasm")],
    alias: Annotated[Alias, typer.Option(help="production or staging")] = "production",
    steps: Annotated[int, typer.Option(min=1, max=20, help="how many versions back")] = 1,
    tenant: TenantOpt = "default",
    proposer: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Roll a task's alias back to the previous version (a one-step plan, policy-checked)."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    body = RollbackIn(task=task, alias=alias, steps=steps)
    accepted = run_flow(start_rollback_flow(flow_context(settings), principal, body))
    _print_started(settings, accepted)


@workflows_app.command("list")
def workflows_list(limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """The newest plan executions."""
    settings = load_settings()

    async def work() -> list[tuple[str, str, str]]:
        with temporal_errors("listing plans"):
            return await list_plans(await connect(settings), limit=limit)

    rows = run_flow(work())
    table = Table("workflow", "status", "started (UTC)", "web UI")
    for workflow_id, status, started in rows:
        table.add_row(workflow_id, status, started, workflow_ui_url(settings, workflow_id) or "-")
    console.print(table)


def print_progress(settings: Settings, progress: PlanProgress) -> None:
    console.print(f"[bold]{progress.workflow_id}[/]  status: [bold]{progress.status}[/]")
    console.print(f"tenant {progress.tenant}, proposed by {progress.proposer}")
    console.print(f"plan hash {progress.plan_hash}", soft_wrap=True)
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
        console.print(f"Temporal web UI: {url}", soft_wrap=True)


@workflows_app.command("show")
def workflows_show(workflow_id: str) -> None:
    """Progress of one plan execution: each step's policy decision, approval and result."""
    settings = load_settings()

    async def work() -> PlanProgress:
        with temporal_errors(f"reading {workflow_id}"):
            return await plan_progress(await connect(settings), workflow_id)

    print_progress(settings, run_flow(work()))


@workflows_app.command("cancel")
def workflows_cancel(
    workflow_id: str,
    tenant: TenantOpt = "default",
    actor: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Stop a plan: the approval it waits for is closed and it ends as cancelled (audited). Only
    the plan's proposer or a tenant admin may."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=actor, roles=roles)
    run_flow(cancel_plan_flow(flow_context(settings), principal, workflow_id))
    console.print(f"cancelling [bold]{workflow_id}[/]; `workflows show` follows it", soft_wrap=True)
