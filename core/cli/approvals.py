"""`sentimentops approvals list|show|approve|reject|resend`.

The CLI talks to the database and Temporal directly, as an operator named by flags (whoever can
run it can read the platform's database, so it is the operator's tool, not a remote client).
Every decision is checked and audited exactly as through the API: the operator must hold the
approver role (given by --role), must not be the plan's proposer, and the plan must not have
changed."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.table import Table
from temporalio.service import RPCError

from sentimentops.approvals import service
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.core.cli.common import cli_sessions, console, fail, load_settings
from sentimentops.core.errors import DomainError
from sentimentops.core.identity.principal import AuthMethod, Principal, PrincipalKind, Role
from sentimentops.core.identity.service import tenant_by_slug
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect, workflow_ui_url
from sentimentops.workflows.client import signal_approval
from sentimentops.workflows.schemas import ApprovalSignal

app = typer.Typer(help="Approve or reject steps that wait for a human.", no_args_is_help=True)

TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant (slug).")]
AsOpt = Annotated[str, typer.Option("--as", help="Who you are (audited; never the proposer).")]
RoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]


def _principal(settings: Settings, tenant: str, name: str, roles: list[str]) -> Principal:
    sessions = cli_sessions(settings)
    with sessions() as session:
        row = tenant_by_slug(session, tenant)
    if row is None:
        fail(f"no tenant {tenant!r}")
    try:
        parsed = frozenset(Role(r) for r in roles)
    except ValueError as exc:
        fail(str(exc))
    return Principal(
        tenant_id=row.id, tenant=row.slug, subject=name, name=name, kind=PrincipalKind.HUMAN,
        roles=parsed, method=AuthMethod.FIRST_PARTY,
    )  # fmt: skip


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
    roles: RoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    status: Annotated[str | None, typer.Option(help="pending, approved, …")] = "pending",
) -> None:
    """Approval requests of a tenant (pending ones by default)."""
    settings = load_settings()
    principal = _principal(settings, tenant, name, roles)
    sessions = cli_sessions(settings)
    with sessions() as session:
        rows = service.list_requests(session, principal=principal, status=status)
    table = Table("id", "status", "step", "tool", "requester", "expires (UTC)")
    for r in rows:
        table.add_row(r.id, r.status, str(r.step_index), r.tool, r.requester,
                      f"{r.expires_at:%Y-%m-%d %H:%M}")  # fmt: skip
    console.print(table)


@app.command()
def show(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: RoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """One approval request: what would run, why it needs approval, the plan hash."""
    settings = load_settings()
    principal = _principal(settings, tenant, name, roles)
    sessions = cli_sessions(settings)
    with sessions() as session:
        try:
            row = service.get_request(session, principal=principal, approval_id=approval_id)
        except DomainError as exc:
            fail(str(exc))
    _show(settings, row)


async def _signal(settings: Settings, row: ApprovalRequest, approved: bool) -> None:
    client = await connect(settings)
    await signal_approval(
        client,
        ApprovalSignal(
            approval_id=row.id, plan_hash=row.plan_hash, step_index=row.step_index,
            approved=approved, decided_by=row.decided_by or "", comment=row.comment,
        ),
        row.workflow_id,
    )  # fmt: skip


def _decide(
    *,
    approval_id: str,
    approve: bool,
    tenant: str,
    name: str,
    roles: list[str],
    comment: str | None,
    plan_hash: str | None,
) -> None:
    settings = load_settings()
    principal = _principal(settings, tenant, name, roles)
    sessions = cli_sessions(settings)
    with sessions() as session:
        try:
            row = service.decide(
                session, principal=principal, approval_id=approval_id, approve=approve,
                plan_hash=plan_hash, comment=comment,
            )  # fmt: skip
        except DomainError as exc:
            fail(f"refused: {exc}")
        session.commit()
    try:
        asyncio.run(_signal(settings, row, approve))
    except (RuntimeError, RPCError) as exc:
        fail(f"recorded, but the workflow was not signalled ({exc}); run `approvals resend`")
    _show(settings, row)


PlanHashOpt = Annotated[
    str | None, typer.Option("--plan-hash", help="the plan hash you reviewed (recommended)")
]
CommentOpt = Annotated[str | None, typer.Option("--comment", "-m")]


@app.command()
def approve(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: RoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    comment: CommentOpt = None,
    plan_hash: PlanHashOpt = None,
) -> None:
    """Approve a pending request; the waiting workflow continues."""
    _decide(approval_id=approval_id, approve=True, tenant=tenant, name=name, roles=roles,
            comment=comment, plan_hash=plan_hash)  # fmt: skip


@app.command()
def reject(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: RoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    comment: CommentOpt = None,
    plan_hash: PlanHashOpt = None,
) -> None:
    """Reject a pending request; the waiting workflow stops as "rejected"."""
    _decide(approval_id=approval_id, approve=False, tenant=tenant, name=name, roles=roles,
            comment=comment, plan_hash=plan_hash)  # fmt: skip


@app.command()
def resend(
    approval_id: str,
    tenant: TenantOpt = "default",
    name: AsOpt = "operator",
    roles: RoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """Signal a decided request's workflow again (when Temporal was away at decision time)."""
    settings = load_settings()
    principal = _principal(settings, tenant, name, roles)
    sessions = cli_sessions(settings)
    with sessions() as session:
        try:
            row = service.get_request(session, principal=principal, approval_id=approval_id)
        except DomainError as exc:
            fail(str(exc))
    if row.status not in ("approved", "rejected"):
        fail(f"request is {row.status}; only decided requests are re-sent")
    asyncio.run(_signal(settings, row, row.status == "approved"))
    console.print(f"re-sent {row.status} to {row.workflow_id}")
