"""`sentimentops lifecycle start`, `plan run`, `workflows list|show|cancel` and `rollback`: start,
watch and stop plan executions. Every command goes through the same flows as the API
(workflows/flows.py), as the operator named by `--as` with the `--role`s given, in the tenant
`--tenant` names (or the only one). Plans are read from the plan registry, so each shows the
plan's own status; a plan id may be given as a unique prefix. Commands print the workflow's web
UI link."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    console,
    fail,
    flow_context,
    id_table,
    load_settings,
    operator_principal,
    print_json,
    run_flow,
)
from sentimentops.core.vocabulary import Alias, PlanStatus, Task

if TYPE_CHECKING:
    from sentimentops.core.flows import FlowContext
    from sentimentops.identity.principal import Principal
    from sentimentops.workflows.schemas import PlanAccepted, PlanDetail, PlanProgress

lifecycle_app = typer.Typer(help="The model lifecycle as a durable workflow.", no_args_is_help=True)
plan_app = typer.Typer(help="Run plans of typed tool calls.", no_args_is_help=True)
workflows_app = typer.Typer(
    help="Plan executions: list, follow and cancel them.", no_args_is_help=True
)

ProposerRoleOpt = Annotated[list[str], typer.Option("--role", help="The proposer's roles.")]
ReaderRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
PlanIdArg = Annotated[
    str, typer.Argument(help="Plan (workflow) id, or a unique prefix of it.", show_default=False)
]


def _print_started(accepted: PlanAccepted) -> None:
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
    dataset_version: Annotated[
        str | None,
        typer.Option(
            help="train on this dataset version (id or unique prefix) instead of the reference data"
        ),
    ] = None,
    tenant: TenantOpt = None,
    proposer: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Validate → train → evaluate → compare → staging → canary → soak → production (approval)."""
    from pydantic import ValidationError

    from sentimentops.workflows.flows import start_lifecycle_flow
    from sentimentops.workflows.schemas import LifecycleIn

    settings = load_settings()
    try:
        body = LifecycleIn(
            task=task,
            family=family,  # validated here, with its message
            max_train_samples=max_train_samples,
            soak_seconds=soak_seconds,
            canary_share=canary_share,
            dataset_version=dataset_version,
        )
    except ValidationError as exc:
        fail(f"invalid lifecycle:\n{exc}")
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    _print_started(run_flow(start_lifecycle_flow(flow_context(settings), principal, body)))


@plan_app.command("run")
def plan_run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="plan JSON")],
    tenant: TenantOpt = None,
    proposer: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Start the plan in FILE (JSON: rationale, steps, optional approval_timeout_seconds; the
    body of POST /api/v1/plans) for --tenant, proposed by --as."""
    import json

    from pydantic import ValidationError

    from sentimentops.workflows.flows import propose_plan_flow
    from sentimentops.workflows.schemas import PlanIn

    settings = load_settings()
    try:
        body = PlanIn.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        fail(f"{file} is not a valid plan:\n{exc}")
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    _print_started(run_flow(propose_plan_flow(flow_context(settings), principal, body)))


def rollback(
    task: Annotated[Task, typer.Option(help="sentiment or sarcasm")],
    alias: Annotated[Alias, typer.Option(help="production or staging")] = "production",
    steps: Annotated[int, typer.Option(min=1, max=20, help="how many versions back")] = 1,
    tenant: TenantOpt = None,
    proposer: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Roll a task's alias back to the previous version (a one-step plan, policy-checked)."""
    from sentimentops.workflows.flows import start_rollback_flow
    from sentimentops.workflows.schemas import RollbackIn

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=proposer, roles=roles)
    body = RollbackIn(task=task, alias=alias, steps=steps)
    _print_started(run_flow(start_rollback_flow(flow_context(settings), principal, body)))


@workflows_app.command("list")
def workflows_list(
    tenant: TenantOpt = None,
    status: Annotated[
        PlanStatus | None,
        typer.Option(help="Only plans with this status.", show_default=False),
    ] = None,
    sentry: Annotated[
        bool, typer.Option("--sentry", help="Include the deployment sentry's checks.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    name: AsOpt = "operator",
    roles: ReaderRoleOpt = ["viewer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """The tenant's newest plans, each with the plan's own status (a plan that failed a gate
    says gate_failed, even though its workflow completed)."""
    from sentimentops.workflows.flows import list_plans_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    plans = run_flow(
        list_plans_flow(
            flow_context(settings),
            principal,
            status=status,
            limit=limit,
            include_sentry=sentry,
        )
    )
    if as_json:
        print_json(plans)
        return
    table = id_table(
        "plan", "status", "proposer", "tools", "started (UTC)", ids=[p.id for p in plans]
    )
    for p in plans:
        table.add_row(
            p.id, p.status, p.proposer, ", ".join(p.tools), f"{p.created_at:%Y-%m-%d %H:%M:%S}"
        )
    console.print(table)


def print_progress(progress: PlanProgress) -> None:
    """The steps of a plan: each one's status, approval and policy reasons or result."""
    import json

    from rich.table import Table

    console.print(f"tenant {progress.tenant}, proposed by {progress.proposer}")
    if progress.message:
        console.print(progress.message)
    table = Table("#", "tool", "status", "approval", "detail")
    table.columns[3].no_wrap = True  # an id to copy into `approvals approve`
    for step in progress.steps:
        detail = step.error or "; ".join(step.policy_reasons)
        if step.result and not detail:
            detail = json.dumps(step.result, default=str)[:120]
        label = (
            f"{step.index}" if step.fallback_of is None else f"{step.index} (↩{step.fallback_of})"
        )
        table.add_row(label, step.tool, step.status, step.approval_id or "", detail)
    console.print(table)


def print_detail(detail: PlanDetail) -> None:
    plan = detail.plan
    console.print(f"[bold]{plan.id}[/]  status: [bold]{plan.status}[/]", soft_wrap=True)
    console.print(f"plan hash {plan.plan_hash}", soft_wrap=True)
    if detail.progress is None:
        console.print(f"proposed by {plan.proposer}: {plan.rationale}")
        if plan.message:
            console.print(plan.message)
        console.print("(Temporal no longer holds its steps: its retention period has passed)")
    else:
        print_progress(detail.progress)
    if plan.workflow_url:
        console.print(f"Temporal web UI: {plan.workflow_url}", soft_wrap=True)


async def _resolved(ctx: FlowContext, principal: Principal, ref: str) -> str:
    from sentimentops.workflows.flows import resolve_plan_id_flow

    return await resolve_plan_id_flow(ctx, principal, ref)


@workflows_app.command("show")
def workflows_show(
    workflow_id: PlanIdArg,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: ReaderRoleOpt = ["viewer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """One plan: its status, and each step's policy decision, approval and result."""
    from sentimentops.workflows.flows import plan_detail_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    ctx = flow_context(settings)

    async def work() -> PlanDetail:
        return await plan_detail_flow(ctx, principal, await _resolved(ctx, principal, workflow_id))

    detail = run_flow(work())
    if as_json:
        print_json(detail)
    else:
        print_detail(detail)


@workflows_app.command("cancel")
def workflows_cancel(
    workflow_id: PlanIdArg,
    tenant: TenantOpt = None,
    actor: AsOpt = "operator",
    roles: ProposerRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
) -> None:
    """Stop a plan: the approval it waits for is closed and it ends as cancelled (audited). Only
    the plan's proposer or a tenant admin may."""
    from sentimentops.workflows.flows import cancel_plan_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=actor, roles=roles)
    ctx = flow_context(settings)

    async def work() -> str:
        full_id = await _resolved(ctx, principal, workflow_id)
        await cancel_plan_flow(ctx, principal, full_id)
        return full_id

    cancelled = run_flow(work())
    console.print(f"cancelling [bold]{cancelled}[/]; `workflows show` follows it", soft_wrap=True)
