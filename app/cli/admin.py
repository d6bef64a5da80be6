"""`sentimentops admin …`: first-run bootstrap and identity administration from the host.

These commands act with the operator's access to the database (actor "operator:cli" in the
audit log); secrets they print are shown once and stored only as hashes."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from sentimentops.app.cli.common import (
    cli_transaction,
    console,
    domain_errors,
    fail,
    flow_context,
    load_settings,
)
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import flows, service
from sentimentops.identity.models import Tenant

app = typer.Typer(
    help="Tenants, service accounts, API keys and signing keys.", no_args_is_help=True
)

ACTOR = "operator:cli"


def _tenant(session: Session, slug: str) -> Tenant:
    tenant = service.tenant_by_slug(session, slug)
    if tenant is None:
        fail(f"no tenant {slug!r}")
    return tenant


@app.command()
def bootstrap() -> None:
    """Print a one-time token for POST /api/v1/auth/bootstrap (only while no platform admin
    exists)."""
    settings = load_settings()
    with domain_errors():
        token = flows.issue_bootstrap_token_flow(flow_context(settings))
    console.print(
        f"bootstrap token (valid {settings.bootstrap_token_ttl_seconds}s, usable once):\n"
        f"{token}\n"
        f"POST it to {settings.api_url}/api/v1/auth/bootstrap as "
        '{"bootstrap_token": "…"} to create the first platform admin.',
        soft_wrap=True,
    )


@app.command("create-tenant")
def create_tenant(
    slug: Annotated[str, typer.Argument(help="Lowercase id, e.g. acme.")],
    display_name: Annotated[str | None, typer.Option(help="Human-readable name.")] = None,
) -> None:
    """Create a tenant."""
    settings = load_settings()
    with cli_transaction(settings) as session:
        tenant = service.create_tenant(session, actor=ACTOR, slug=slug, display_name=display_name)
    console.print(f"tenant {tenant.slug} created: id {tenant.id}")


@app.command("create-service-account")
def create_service_account(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    name: Annotated[str, typer.Argument(help="Account name, unique in the tenant.")],
    role: Annotated[list[Role] | None, typer.Option(help="Role to bind (repeatable).")] = None,
    agent: Annotated[bool, typer.Option(help="An agent account (kind agent).")] = False,
) -> None:
    """Create a service account; prints its client credentials once."""
    settings = load_settings()
    with cli_transaction(settings) as session:
        created = service.create_service_account(
            session,
            actor=ACTOR,
            tenant=_tenant(session, tenant),
            name=name,
            kind=PrincipalKind.AGENT if agent else PrincipalKind.SERVICE,
            roles=frozenset(role or ()),
        )
    console.print(
        f"client_id:     {created.account.id}\nclient_secret: {created.client_secret}\n"
        "(the secret is shown once)",
        soft_wrap=True,
    )


@app.command("create-api-key")
def create_api_key(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    account: Annotated[str, typer.Argument(help="Service account name.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
) -> None:
    """Create an API key for a service account; prints it once."""
    settings = load_settings()
    with cli_transaction(settings) as session:
        owner = _tenant(session, tenant)
        target = next(
            (a for a in service.accounts_of_tenant(session, owner) if a.name == account), None
        )
        if target is None:
            fail(f"no service account {account!r} in tenant {tenant!r}")
        created = service.create_api_key(
            session, actor=ACTOR, tenant=owner, account=target, name=name
        )
    console.print(f"api key: {created.secret}\n(shown once; id {created.key.id})", soft_wrap=True)


@app.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Make a new current JWT signing key; the old one keeps verifying until the next rotation."""
    settings = load_settings()
    with domain_errors():
        kid = flows.rotate_signing_key_flow(flow_context(settings), actor=ACTOR)
    console.print(f"current signing key: {kid}")


def first_run_bootstrap_token(settings: Settings) -> str | None:
    """For `up`: a fresh one-time bootstrap token while no platform admin exists (and none is
    configured through SENTIMENTOPS_BOOTSTRAP_TOKEN); None once bootstrap is done."""
    if settings.bootstrap_token is not None:
        return None
    return flows.issue_bootstrap_token_flow(flow_context(settings), unless_done=True)
