"""CLI commands run in-process with Typer's runner against real databases and Redis."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.core.audit import service as audit
from sentimentops.core.db import make_engine, make_session_factory, transaction

runner = CliRunner()


def _seed(url: str, n: int) -> None:
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        for i in range(n):
            audit.record(
                s, actor="alice", tenant="acme", action="x", resource=f"r{i}", outcome="ok"
            )
    engine.dispose()


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
def test_audit_verify_names_a_hand_edited_row(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    _seed(fresh_db_url, 4)
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "4 rows verified" in ok.output

    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()

    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "row 2: contents do not match its hash" in broken.output


def test_audit_tail_lists_events(fresh_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    _seed(fresh_db_url, 3)
    result = runner.invoke(app, ["audit", "tail", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "r2" in result.output
    assert "r1" in result.output
    assert "r0" not in result.output


def test_doctor_checks_redis_and_reports_fixes(
    fresh_db_url: str, redis_url: str, opa_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_REDIS_URL", redis_url)
    monkeypatch.setenv("SENTIMENTOPS_OPA_URL", opa_url)
    monkeypatch.setenv("SENTIMENTOPS_TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("SENTIMENTOPS_API_PORT", "1")
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert "redis" in result.output
    assert "PONG" in result.output
    assert "opa (external)" in result.output
    assert "check SENTIMENTOPS_TEMPORAL_ADDRESS" in result.output
    assert result.exit_code == 1  # the unreachable Temporal address fails the run


def test_invalid_configuration_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_ENV", "production")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "SENTIMENTOPS_SECRET_KEY must be set" in result.output
