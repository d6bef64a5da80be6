"""`sentimentops admin …`: first-run bootstrap and identity administration from the host.

The commands go through the same flows as the API (identity/flows.py), as the operator named
by `--as` (audited as `human:<name>`). Whoever can run the CLI on the host can read and write
the platform's database, which is at least a platform admin's and the tenant's admin's reach,
so the operator acts with those roles; the flows still check them, validate the input and
audit the change exactly as for an API caller. Secrets they print are shown once and stored
only as hashes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sentimentops.app.cli.common import (
    PLATFORM_TENANT,
    AsOpt,
    cli_sessions,
    console,
    domain_errors,
    fail,
    flow_context,
    load_settings,
    principal_in,
    resolve_tenant,
)
from sentimentops.core.vocabulary import Role

if TYPE_CHECKING:
    from sentimentops.core.settings import Settings
    from sentimentops.identity.principal import Principal

app = typer.Typer(
    help="Tenants, service accounts, API keys and signing keys.", no_args_is_help=True
)

# What host access amounts to (see the module docstring).
OPERATOR_ROLES = [Role.PLATFORM_ADMIN.value, Role.TENANT_ADMIN.value]


def _platform_operator(settings: Settings, name: str) -> Principal:
    """The operator as a platform admin. Before the first bootstrap there is no `platform`
    tenant row: the principal then carries an id that matches no row, which is safe because
    creating a tenant scopes no query by the caller's own tenant."""
    from sentimentops.identity import service

    with cli_sessions(settings)() as session:
        row = service.tenant_by_slug(session, PLATFORM_TENANT)
    return principal_in(
        row.id if row is not None else "", PLATFORM_TENANT, name=name, roles=OPERATOR_ROLES
    )


def _tenant_operator(settings: Settings, slug: str, name: str) -> Principal:
    """The operator as the admin of tenant `slug` (which must exist)."""
    with cli_sessions(settings)() as session:
        tenant = resolve_tenant(session, slug)
        return principal_in(tenant.id, tenant.slug, name=name, roles=OPERATOR_ROLES)


@app.command()
def bootstrap() -> None:
    """Print a one-time token for POST /api/v1/auth/bootstrap (only while no platform admin
    exists)."""
    from sentimentops.identity import flows

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
    name: AsOpt = "operator",
) -> None:
    """Create a tenant (as POST /api/v1/tenants does)."""
    from pydantic import ValidationError

    from sentimentops.identity import flows
    from sentimentops.identity.schemas import TenantCreate

    settings = load_settings()
    try:
        body = TenantCreate(slug=slug, display_name=display_name)
    except ValidationError as exc:
        fail(f"invalid tenant:\n{exc}")
    principal = _platform_operator(settings, name)
    with domain_errors():
        created = flows.create_tenant_flow(flow_context(settings), principal, body)
    console.print(f"tenant {created.tenant.slug} created: id {created.tenant.id}")


@app.command("create-service-account")
def create_service_account(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    account: Annotated[str, typer.Argument(help="Account name, unique in the tenant.")],
    role: Annotated[list[Role] | None, typer.Option(help="Role to bind (repeatable).")] = None,
    agent: Annotated[bool, typer.Option(help="An agent account (kind agent).")] = False,
    name: AsOpt = "operator",
) -> None:
    """Create a service account; prints its client credentials once."""
    from pydantic import ValidationError

    from sentimentops.identity import flows
    from sentimentops.identity.schemas import ServiceAccountCreate

    settings = load_settings()
    try:
        body = ServiceAccountCreate(
            name=account, kind="agent" if agent else "service", roles=list(role or ())
        )
    except ValidationError as exc:
        fail(f"invalid service account:\n{exc}")
    principal = _tenant_operator(settings, tenant, name)
    with domain_errors():
        created = flows.create_service_account_flow(flow_context(settings), principal, body)
    console.print(
        f"client_id:     {created.client_id}\nclient_secret: {created.client_secret}\n"
        "(the secret is shown once)",
        soft_wrap=True,
    )


@app.command("create-api-key")
def create_api_key(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    account: Annotated[str, typer.Argument(help="Service account name.")],
    key_name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "cli",
    name: AsOpt = "operator",
) -> None:
    """Create an API key for a service account; prints it once."""
    from pydantic import ValidationError

    from sentimentops.identity import flows, service
    from sentimentops.identity.schemas import ApiKeyCreate

    settings = load_settings()
    try:
        body = ApiKeyCreate(name=key_name)
    except ValidationError as exc:
        fail(f"invalid API key:\n{exc}")
    principal = _tenant_operator(settings, tenant, name)
    with cli_sessions(settings)() as session:
        accounts = service.list_service_accounts(session, principal=principal)
    target = next((a for a in accounts if a.name == account), None)
    if target is None:
        fail(f"no service account {account!r} in tenant {tenant!r}")
    with domain_errors():
        created = flows.create_api_key_flow(flow_context(settings), principal, target.id, body)
    console.print(f"api key: {created.api_key}\n(shown once; id {created.key.id})", soft_wrap=True)


@app.command("link-slack")
def link_slack(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    account: Annotated[str, typer.Argument(help="The account's name (or id) in the tenant.")],
    slack_user_id: Annotated[str, typer.Argument(help="The Slack user id (U…).")],
    name: AsOpt = "operator",
) -> None:
    """Let a Slack user act as a platform account (as `sentimentops slack link`)."""
    from sentimentops.app.cli.slack import link_user

    link_user(load_settings(), tenant, account, slack_user_id, name)


@app.command("rotate-signing-key")
def rotate_signing_key(name: AsOpt = "operator") -> None:
    """Make a new current JWT signing key; the old one keeps verifying until the next rotation."""
    from sentimentops.identity import flows

    settings = load_settings()
    actor = principal_in("", PLATFORM_TENANT, name=name, roles=OPERATOR_ROLES).actor
    with domain_errors():
        kid = flows.rotate_signing_key_flow(flow_context(settings), actor=actor)
    console.print(f"current signing key: {kid}")


def first_run_bootstrap_token(settings: Settings) -> str | None:
    """For `up`: a fresh one-time bootstrap token while no platform admin exists (and none is
    configured through SENTIMENTOPS_BOOTSTRAP_TOKEN); None once bootstrap is done."""
    from sentimentops.identity import flows

    if settings.bootstrap_token is not None:
        return None
    return flows.issue_bootstrap_token_flow(flow_context(settings), unless_done=True)
