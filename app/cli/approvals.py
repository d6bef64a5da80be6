"""`sentimentops approvals list|show|approve|reject|resend`.

The CLI talks to the database and Temporal directly, as an operator named by flags (whoever can
run it can read the platform's database, so it is the operator's tool, not a remote client).
Decisions go through the same flow as the API's (approvals/flows.py): the approver role, never
the proposer, the plan hash, the audit log and the workflow's signal. Every command takes an
approval id or a unique prefix of it (approvals/service.py resolves it, in the tenant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    cli_sessions,
    console,
    domain_errors,
    flow_context,
    id_table,
    load_settings,
    operator_principal,
    print_json,
    run_flow,
)

if TYPE_CHECKING:
    from sentimentops.approvals.models import ApprovalRequest
    from sentimentops.approvals.schemas import ApprovalOut
    from sentimentops.core.settings import Settings
    from sentimentops.identity.principal import Principal

app = typer.Typer(help="Approve or reject steps that wait for a human.", no_args_is_help=True)

ApprovalIdArg = Annotated[
    str, typer.Argument(help="Approval id, or a unique prefix of it.", show_default=False)
]
ApproverRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
PlanHashOpt = Annotated[
    str | None, typer.Option("--plan-hash", help="the plan hash you reviewed (recommended)")
]
CommentOpt = Annotated[str | None, typer.Option("--comment", "-m")]


def _out(settings: Settings, row: ApprovalRequest) -> ApprovalOut:
    """The API's shape of a request (GET /api/v1/approvals/{id}), for both output formats."""
    from sentimentops.approvals.schemas import ApprovalOut
    from sentimentops.core.temporal import workflow_ui_url

    out = ApprovalOut.model_validate(row)
    out.workflow_url = workflow_ui_url(settings, row.workflow_id)
    return out


def _show(out: ApprovalOut) -> None:
    import json

    console.print(f"[bold]{out.id}[/]  {out.status}", soft_wrap=True)
    console.print(f"step {out.step_index}: {out.tool} {json.dumps(out.params, default=str)}")
    asked = f", asked for by {out.requested_by}" if out.requested_by else ""
    console.print(f"proposed by {out.requester} ({out.requester_kind}){asked}: {out.rationale}")
    console.print(f"why approval: {'; '.join(out.reasons)}")
    console.print(
        f"plan hash {out.plan_hash}; expires {out.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        soft_wrap=True,
    )
    if out.decided_by:
        comment = f": {out.comment}" if out.comment else ""
        console.print(f"decided by {out.decided_by}{comment}")
    link = f"  {out.workflow_url}" if out.workflow_url else ""
    console.print(f"workflow {out.workflow_id}{link}", soft_wrap=True)


def _resolve(settings: Settings, principal: Principal, ref: str) -> str:
    """The full id of the caller's request `ref` (an id or a unique prefix)."""
    from sentimentops.approvals import service

    with domain_errors(), cli_sessions(settings)() as session:
        return service.resolve_request_id(session, principal=principal, ref=ref)
    raise AssertionError("unreachable")  # for mypy: domain_errors() may swallow


@app.command("list")
def list_(
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    status: Annotated[str | None, typer.Option(help="pending, approved, …")] = "pending",
    as_json: JsonOpt = False,
) -> None:
    """Approval requests of a tenant (pending ones by default), with their full ids."""
    from sentimentops.approvals import service
    from sentimentops.approvals.permissions import can_read_approvals

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    with domain_errors(), cli_sessions(settings)() as session:
        can_read_approvals(principal)
        rows = [
            _out(settings, r)
            for r in service.list_requests(session, principal=principal, status=status)
        ]
    if as_json:
        print_json(rows)
        return
    table = id_table(
        "id", "status", "step", "tool", "requester", "expires (UTC)", ids=[r.id for r in rows]
    )
    for r in rows:
        expires = f"{r.expires_at:%Y-%m-%d %H:%M}"
        table.add_row(r.id, r.status, str(r.step_index), r.tool, r.requester, expires)
    console.print(table)


@app.command()
def show(
    approval_id: ApprovalIdArg,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """One approval request: what would run, why it needs approval, the plan hash."""
    from sentimentops.approvals import service
    from sentimentops.approvals.permissions import can_read_approvals

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    with domain_errors(), cli_sessions(settings)() as session:
        can_read_approvals(principal)
        full_id = service.resolve_request_id(session, principal=principal, ref=approval_id)
        out = _out(settings, service.get_request(session, principal=principal, approval_id=full_id))
    if as_json:
        print_json(out)
    else:
        _show(out)


def _decide(
    approval_id: str,
    *,
    approve: bool,
    tenant: str | None,
    name: str,
    roles: list[str],
    comment: str | None,
    plan_hash: str | None,
) -> None:
    from sentimentops.approvals.flows import decide_approval_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    row = run_flow(
        decide_approval_flow(
            flow_context(settings),
            principal,
            approval_id=_resolve(settings, principal, approval_id),
            approve=approve,
            plan_hash=plan_hash,
            comment=comment,
        )
    )
    _show(_out(settings, row))


def _decision_command(approve: bool) -> Callable[..., None]:
    def command(
        approval_id: ApprovalIdArg,
        tenant: TenantOpt = None,
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
    approval_id: ApprovalIdArg,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: ApproverRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """Signal a decided request's workflow again (when Temporal was away at decision time)."""
    from sentimentops.approvals.flows import resend_decision_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    full_id = _resolve(settings, principal, approval_id)
    row = run_flow(resend_decision_flow(flow_context(settings), principal, approval_id=full_id))
    console.print(f"re-sent {row.status} to {row.workflow_id}", soft_wrap=True)
