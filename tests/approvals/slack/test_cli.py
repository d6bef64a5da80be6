"""The tenant admin's Slack commands: map the workspace, link, list and unlink users (and
`admin link-slack`), with their refusals; `sentimentops slack` without its tokens."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.approvals.slack.models import SlackUserLink
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity


def test_map_link_list_unlink(fresh_db_url: str, tmp_path: Path) -> None:
    sessions = make_session_factory(make_engine(fresh_db_url))
    with transaction(sessions) as session:
        acme = identity.create_tenant(session, actor="test", slug="acme")
        globex = identity.create_tenant(session, actor="test", slug="globex")
        identity.create_service_account(
            session, actor="test", tenant=acme, name="bob", roles=frozenset({Role.APPROVER})
        )
        identity.create_service_account(
            session, actor="test", tenant=acme, name="robot", kind=PrincipalKind.AGENT
        )
        identity.create_service_account(session, actor="test", tenant=globex, name="gx")
    env = {
        "SENTIMENTOPS_DATABASE_URL": fresh_db_url,
        "SENTIMENTOPS_DATA_DIR": str(tmp_path / "data"),
        "SENTIMENTOPS_LOG_JSON": "false",
    }
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, " ".join(result.output.split())

    code, out = run("admin", "link-slack", "acme", "bob", "U0BOB0001")
    assert code == 1
    assert "map it first with `sentimentops slack map-workspace" in out
    assert run("slack", "map-workspace", "acme", "not-a-team", "C0APPROVE1")[1].endswith(
        "'not-a-team' is not a Slack team id"
    )
    code, out = run("slack", "map-workspace", "acme", "T0TEAM001", "C0APPROVE1")
    assert code == 0, out
    # A workspace acts for one tenant.
    code, out = run("slack", "map-workspace", "globex", "T0TEAM001", "C0GLOBEX01")
    assert (code, "already acts for another tenant" in out) == (1, True)

    code, out = run("admin", "link-slack", "acme", "bob", "U0BOB0001")
    assert code == 0, out
    assert run("slack", "link", "acme", "robot", "U0ROBOT01")[1].endswith(
        "an agent account cannot be linked to a Slack user"
    )
    # Another tenant's account is not found from acme.
    assert "no account 'gx' in tenant acme" in run("slack", "link", "acme", "gx", "U0GX00001")[1]
    code, out = run("slack", "links", "acme")
    assert (code, out) == (0, "U0BOB0001 bob (T0TEAM001)")

    code, out = run("slack", "unlink", "acme", "U0BOB0001")
    assert code == 0, out
    assert run("slack", "links", "acme") == (0, "")
    assert run("slack", "unlink", "acme", "U0BOB0001")[0] == 1

    with sessions() as session:
        assert session.execute(select(SlackUserLink)).first() is None
        actions = [
            (e.actor, e.action)
            for e in session.execute(
                select(AuditEvent).where(AuditEvent.action.startswith("slack."))
            ).scalars()
        ]
    assert actions == [
        ("human:operator", "slack.workspace.map"),
        ("human:operator", "slack.user.link"),
        ("human:operator", "slack.user.unlink"),
    ]


def test_socket_mode_needs_its_tokens(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["slack"],
        env={"SENTIMENTOPS_DATA_DIR": str(tmp_path), "SENTIMENTOPS_LOG_JSON": "false"},
    )
    assert result.exit_code == 1
    assert "SENTIMENTOPS_SLACK_APP_TOKEN" in result.output
