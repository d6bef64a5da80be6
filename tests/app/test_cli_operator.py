"""The operator CLI on a real database (no Temporal): which tenant a command acts in, admin
commands through the identity flows, approval ids in full and by prefix, `--json`, the audit
chain head and doctor's advice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from sentimentops.app.cli.main import app
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.core.audit.models import AuditChainHead, AuditEvent
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.identity import service as identity

runner = CliRunner()


@pytest.fixture
def db_url(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMENTOPS_LOG_JSON", "false")
    # Nothing listens here: a command that got past the tenant check would say so.
    monkeypatch.setenv("SENTIMENTOPS_TEMPORAL_ADDRESS", "127.0.0.1:1")
    return fresh_db_url


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _tenant_ids(url: str) -> dict[str, str]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        found = {t.slug: t.id for t in identity.list_tenants(session)}
    engine.dispose()
    return found


def _audit(url: str) -> list[AuditEvent]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        events = list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())
    engine.dispose()
    return events


def test_a_command_acts_in_the_tenant_it_names_or_the_only_one(db_url: str) -> None:
    none_yet = cli("data", "list")
    assert none_yet.exit_code == 1
    assert "no tenant exists" in none_yet.output

    # The platform tenant (bootstrap's) holds no tenant's data: it never counts as "the one".
    ok("admin", "create-tenant", "platform")
    assert "no tenant exists" in cli("data", "list").output
    ok("admin", "create-tenant", "acme")
    assert "dataset versions of acme" in ok("data", "list")
    assert "dataset versions of platform" in ok("data", "list", "--tenant", "platform")

    ok("admin", "create-tenant", "beta")
    several = cli("approvals", "list")
    assert several.exit_code == 1
    assert "several tenants exist; pass --tenant (acme, beta)" in several.output

    # An unknown tenant is an error before anything starts (no plan `plan-default-…`): the
    # message is the tenant's, not Temporal's (nothing listens at the configured address).
    unknown = cli("rollback", "--task", "sentiment", "--tenant", "default")
    assert unknown.exit_code == 1
    assert "no tenant 'default' (tenants: acme, beta, platform)" in unknown.output
    assert "Temporal" not in unknown.output
    assert "plan.start" not in {e.action for e in _audit(db_url)}
    # Explicit and existing: it gets as far as Temporal.
    reached = cli("rollback", "--task", "sentiment", "--tenant", "acme")
    assert reached.exit_code == 1
    assert "Temporal" in reached.output


def test_admin_commands_go_through_the_identity_flows(db_url: str) -> None:
    ok("admin", "create-tenant", "acme", "--as", "alice")
    output = ok(
        "admin", "create-service-account", "acme", "ops", "--role", "viewer", "--as", "alice"
    )
    assert "client_secret:" in output
    ok("admin", "create-api-key", "acme", "ops", "--name", "ci", "--as", "alice")

    actions = [(e.actor, e.tenant, e.action) for e in _audit(db_url)]
    assert ("human:alice", "acme", "identity.tenant.create") in actions
    assert ("human:alice", "acme", "identity.service_account.create") in actions
    assert ("human:alice", "acme", "identity.api_key.create") in actions
    assert all(actor != "operator:cli" for actor, _, _ in actions)

    # The flows' validation and checks, with their messages.
    invalid = cli("admin", "create-tenant", "Not_A_Slug")
    assert invalid.exit_code == 1
    assert "[a-z0-9]" in invalid.output  # the pattern, not eaten as Rich markup
    assert "already exists" in cli("admin", "create-service-account", "acme", "ops").output
    assert "no tenant 'nope'" in cli("admin", "create-api-key", "nope", "ops").output
    assert "no service account 'x'" in cli("admin", "create-api-key", "acme", "x").output


def _approval(tenant_id: str, approval_id: str, workflow_id: str) -> ApprovalRequest:
    now = datetime.now(UTC)
    return ApprovalRequest(
        id=approval_id,
        tenant_id=tenant_id,
        workflow_id=workflow_id,
        plan_hash="0" * 64,
        step_index=0,
        tool="promote_model",
        params={"task": "sarcasm", "target": "production", "version": "3"},
        requester="human:alice",
        requester_kind="human",
        required_role="approver",
        rationale="promote",
        reasons=["promotion to production needs an approver"],
        status="pending",
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )


def test_approval_ids_print_whole_and_resolve_from_a_unique_prefix(db_url: str) -> None:
    ok("admin", "create-tenant", "acme")
    ok("admin", "create-tenant", "beta")
    tenants = _tenant_ids(db_url)
    first, second, others = "aaaa1" + "1" * 27, "aaaa2" + "2" * 27, "aaaa3" + "3" * 27
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as session:
        session.add(_approval(tenants["acme"], first, "plan-acme-one"))
        session.add(_approval(tenants["acme"], second, "plan-acme-two"))
        session.add(_approval(tenants["beta"], others, "plan-beta-one"))
    engine.dispose()

    listed = ok("approvals", "list", "--tenant", "acme")  # 80 columns, as CliRunner's terminal
    assert first in listed
    assert second in listed
    assert others not in listed
    as_json = json.loads(ok("approvals", "list", "--tenant", "acme", "--json"))
    assert sorted(a["id"] for a in as_json) == [first, second]

    shown = ok("approvals", "show", "aaaa2", "--tenant", "acme")
    assert second in shown
    assert "plan-acme-two" in shown
    assert json.loads(ok("approvals", "show", "aaaa2", "--tenant", "acme", "--json"))["id"] == (
        second
    )

    ambiguous = cli("approvals", "show", "aaaa", "--tenant", "acme")
    assert ambiguous.exit_code == 1
    assert f"'aaaa' matches several approval requests ({first}, {second})" in ambiguous.output
    # Another tenant's request is never a match, nor found by its own prefix.
    for ref in ("aaaa3", "f"):
        missing = cli("approvals", "show", ref, "--tenant", "acme")
        assert missing.exit_code == 1
        assert "approval request not found" in missing.output
    # A decision resolves the prefix before the flow's checks: the proposer is refused by name.
    refused = cli("approvals", "approve", "aaaa1", "--tenant", "acme", "--as", "alice")
    assert refused.exit_code == 1
    assert "proposer" in refused.output


def test_audit_tail_prints_the_chain_head(db_url: str) -> None:
    ok("admin", "create-tenant", "acme")
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        head = session.get(AuditChainHead, 1)
        assert head is not None
        last_seq, last_hash = head.last_seq, head.last_hash
    engine.dispose()

    assert f"chain head: row {last_seq} sha256 {last_hash}" in ok("audit", "tail")
    tail = json.loads(ok("audit", "tail", "--json", "--tenant", "nobody"))
    assert tail["events"] == []
    assert tail["chain_head"] == {"seq": last_seq, "hash": last_hash}
    events = json.loads(ok("audit", "tail", "--json"))["events"]
    assert events[-1]["row_hash"] == last_hash


def test_doctor_gives_advice_under_failing_checks_only(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_OPA_URL", "http://127.0.0.1:1")  # external and away
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "check SENTIMENTOPS_OPA_URL" in rows["opa (external)"]
    # Passing checks whose Check carries a fix: no advice printed under them.
    assert "ok" in rows["python"]
    assert "use Python 3.11" not in result.output
    assert "ok" in rows["data directory"]
    assert "make it writable" not in result.output
