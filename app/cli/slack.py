"""`sentimentops slack`: the Slack app over Socket Mode (for installs Slack cannot reach over
HTTP), and the tenant admin's links: which workspace is the tenant, which Slack user is which
account (docs/slack.md). The links go through approvals/slack/flows.py as the operator named by
`--as`, with a tenant admin's roles (host access is at least that: see app/cli/admin.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    cli_sessions,
    console,
    fail,
    flow_context,
    load_settings,
    principal_in,
    resolve_tenant,
    run_flow,
)
from sentimentops.core.vocabulary import Role

if TYPE_CHECKING:
    from sentimentops.core.settings import Settings
    from sentimentops.identity.principal import Principal

app = typer.Typer(
    help="The Slack app: `sentimentops slack` runs it over Socket Mode; the subcommands link "
    "a workspace and its users to a tenant.",
    invoke_without_command=True,
)

TenantArg = Annotated[str, typer.Argument(help="Tenant slug.")]
UserArg = Annotated[str, typer.Argument(help="The Slack user id (U…), from the user's profile.")]


def _admin(settings: Settings, tenant: str, name: str) -> Principal:
    with cli_sessions(settings)() as session:
        row = resolve_tenant(session, tenant)
        return principal_in(row.id, row.slug, name=name, roles=[Role.TENANT_ADMIN.value])


@app.callback()
def run(ctx: typer.Context) -> None:
    """Run the Slack app over Socket Mode (needs SENTIMENTOPS_SLACK_BOT_TOKEN and
    SENTIMENTOPS_SLACK_APP_TOKEN) until interrupted; it also keeps the approval messages
    current. The API serves HTTP events instead when the signing secret is set."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    settings = load_settings()
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        fail("Socket Mode needs SENTIMENTOPS_SLACK_BOT_TOKEN and SENTIMENTOPS_SLACK_APP_TOKEN")
    asyncio.run(run_socket_mode(settings, settings.slack_app_token.get_secret_value()))


async def run_socket_mode(settings: Settings, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from sentimentops.agents.wiring import AgentRuntime, open_agent_runtime
    from sentimentops.app.slack import build_slack
    from sentimentops.inference.wiring import serving_registry
    from sentimentops.knowledge_base.workflow import RemoteKnowledge

    flows = flow_context(settings)
    registry = serving_registry(settings)
    # The API process holds the knowledge base; this one asks it through Temporal.
    knowledge = RemoteKnowledge(settings)
    async with open_agent_runtime(
        flows, registry=lambda: registry, knowledge=lambda: knowledge
    ) as runtime:

        async def agents() -> AgentRuntime:
            return runtime

        slack = build_slack(settings, flows, agents=agents, socket_mode=True)
        handler = AsyncSocketModeHandler(slack.bolt, app_token)
        slack.start()
        console.print("Slack app connected over Socket Mode; Ctrl-C stops it.")
        try:
            await handler.start_async()  # type: ignore[no-untyped-call]  # Bolt: untyped
        finally:
            await slack.close()
            await handler.close_async()  # type: ignore[no-untyped-call]


@app.command("map-workspace")
def map_workspace(
    tenant: TenantArg,
    team_id: Annotated[str, typer.Argument(help="The Slack workspace (team) id, T….")],
    channel_id: Annotated[str, typer.Argument(help="The channel for notices, C….")],
    name: AsOpt = "operator",
) -> None:
    """Make a Slack workspace act for the tenant; approval requests and incidents go to the
    channel (invite the app there)."""
    from sentimentops.approvals.slack.flows import map_workspace_flow

    settings = load_settings()
    principal = _admin(settings, tenant, name)
    run_flow(
        map_workspace_flow(
            flow_context(settings), principal, team_id=team_id, channel_id=channel_id
        )
    )
    console.print(
        f"workspace {team_id} acts for tenant {principal.tenant}; notices go to {channel_id}"
    )


def link_user(settings: Settings, tenant: str, account: str, slack_user_id: str, name: str) -> None:
    """Link `slack_user_id` to `account` (also `sentimentops admin link-slack`)."""
    from sentimentops.approvals.slack.flows import link_user_flow

    principal = _admin(settings, tenant, name)
    run_flow(
        link_user_flow(
            flow_context(settings), principal, slack_user_id=slack_user_id, account=account
        )
    )
    console.print(f"Slack user {slack_user_id} acts as {account} in tenant {principal.tenant}")


@app.command("link")
def link(
    tenant: TenantArg,
    account: Annotated[str, typer.Argument(help="The account's name (or id) in the tenant.")],
    slack_user_id: UserArg,
    name: AsOpt = "operator",
) -> None:
    """Let a Slack user act as a platform account (and only as it)."""
    link_user(load_settings(), tenant, account, slack_user_id, name)


@app.command("unlink")
def unlink(tenant: TenantArg, slack_user_id: UserArg, name: AsOpt = "operator") -> None:
    """Remove a Slack user's link: their presses and messages are refused from now on."""
    from sentimentops.approvals.slack.flows import unlink_user_flow

    settings = load_settings()
    principal = _admin(settings, tenant, name)
    run_flow(unlink_user_flow(flow_context(settings), principal, slack_user_id=slack_user_id))
    console.print(f"Slack user {slack_user_id} unlinked")


@app.command("links")
def links(tenant: TenantArg, name: AsOpt = "operator") -> None:
    """The tenant's linked Slack users."""
    from sentimentops.approvals.slack.flows import list_links_flow

    settings = load_settings()
    principal = _admin(settings, tenant, name)
    for row, account in run_flow(list_links_flow(flow_context(settings), principal)):
        console.print(f"{row.slack_user_id}\t{account}\t({row.team_id})")
