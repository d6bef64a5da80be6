"""`sentimentops approvals list|show|approve|reject|resend`.

The CLI talks to the database and Temporal directly, as an operator named by flags (whoever can
run it can read the platform's database, so it is the operator's tool, not a remote client).
Decisions go through the same flow as the API's (approvals/flows.py): the approver role, never
the proposer, the plan hash, the audit log and the workflow's signal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from sentimentops.app.cli.common import (
    AsOpt,
    TenantOpt,
    cli_sessions,
    console,
    domain_errors,
    flow_context,
    load_settings,
    operator_principal,
    run_flow,
)
from sentimentops.approvals import service
from sentimentops.approvals.flows import decide_approval_flow, resend_decision_flow
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.permissions import can_read_approvals
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url

app = typer.Typer(help="Approve or reject steps that wait for a human.", no_args_is_help=True)

ApproverRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
PlanHashOpt = Annotated[
    str | None, typer.Option("--plan-hash", help="the plan hash you reviewed (recommended)")
]
CommentOpt = Annotated[str | None, typer.Option("--comment", "-m")]


def _show(settings: Settings, row: ApprovalRequest) -> None:
    console.print(f"[bold]{row.id}[/]  {row.status}")
    console.print(f"step {row.step_index}: {row.tool} {json.dumps(row.params, default=str)}")
    console.print(f"proposed by {row.requester} ({row.requester_kind}): {row.rationale}")
    console.print(f"why approval: {'; '.join(row.reasons)}")
    console.print(f"plan hash {row.plan_hash}; expires {row.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    if row.decided_by:
        comment = f": {row.comment}" if row.comment else ""
        console.print(f"decided by {row.decided_by}{comment}")
    url = workflow_ui_url(settings, row.workflow_id)
    console.print(f"workflow {row.workflow_id}" + (f"  {url}" if url else ""))


@app.command("list")
def list_(
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    status: Annotated[str | None, typer.Option(help="pending, approved, …")] = "pending",
) -> None:
    """Approval requests of a tenant (pending ones by default)."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    with domain_errors(), cli_sessions(settings)() as session:
        can_read_approvals(principal)
        rows = service.list_requests(session, principal=principal, status=status)
    table = Table("id", "status", "step", "tool", "requester", "expires (UTC)")
    for r in rows:
        expires = f"{r.expires_at:%Y-%m-%d %H:%M}"
        table.add_row(r.id, r.status, str(r.step_index), r.tool, r.requester, expires)
    console.print(table)


@app.command()
def show(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """One approval request: what would run, why it needs approval, the plan hash."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    with domain_errors(), cli_sessions(settings)() as session:
        can_read_approvals(principal)
        row = service.get_request(session, principal=principal, approval_id=approval_id)
    _show(settings, row)


def _decide(
    approval_id: str,
    *,
    approve: bool,
    tenant: str,
    name: str,
    roles: list[str],
    comment: str | None,
    plan_hash: str | None,
) -> None:
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    row = run_flow(
        decide_approval_flow(
            flow_context(settings),
            principal,
            approval_id=approval_id,
            approve=approve,
            plan_hash=plan_hash,
            comment=comment,
        )
    )
    _show(settings, row)


def _decision_command(approve: bool) -> Callable[..., None]:
    def command(
        approval_id: str,
        tenant: TenantOpt = "default",
        name: AsOpt = "operator",
        roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
        comment: CommentOpt = None,
        plan_hash: PlanHashOpt = None,
    ) -> None:
        _decide(
            approval_id,
            approve=approve,
            tenant=tenant,
            name=name,
            roles=roles,
            comment=comment,
            plan_hash=plan_hash,
        )

    command.__doc__ = (
        "Approve a pending request; the waiting workflow continues."
        if approve
        else 'Reject a pending request; the waiting workflow stops as "rejected".'
    )
    return command


app.command("approve")(_decision_command(approve=True))
app.command("reject")(_decision_command(approve=False))


@app.command()
def resend(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """Signal a decided request's workflow again (when Temporal was away at decision time)."""
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    row = run_flow(resend_decision_flow(flow_context(settings), principal, approval_id=approval_id))
    console.print(f"re-sent {row.status} to {row.workflow_id}")
