"""The audit chain on SQLite and PostgreSQL: appends, tamper detection, append-only triggers."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.audit import service as audit
from sentimentops.core.db import make_engine, make_session_factory, transaction


def _write(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(
            session,
            actor=f"user{i}",
            tenant="acme" if i % 2 else "globex",
            action="model.promote",
            resource=f"model/sentiment/{i}",
            outcome="allowed",
            trace_id=f"{i:032x}",
            details={"i": i, "note": "ünïcode ✓"},
        )
    session.flush()


def _disable_append_only(connection: Connection) -> None:
    """What an attacker with owner rights would do before editing rows by hand."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER audit_events_no_update"))
        connection.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_records_chain_and_verify(session: Session) -> None:
    _write(session, 5)
    report = audit.verify_chain(session)
    assert report.ok
    assert report.checked == 5
    rows = audit.recent(session, limit=10)
    assert [r.seq for r in rows] == [5, 4, 3, 2, 1]
    assert rows[-1].prev_hash == audit.GENESIS_HASH
    assert all(newer.prev_hash == older.row_hash for newer, older in itertools.pairwise(rows))
    assert [r.seq for r in audit.recent(session, tenant="acme")] == [4, 2]


def test_update_and_delete_are_refused_by_the_database(
    session: Session, connection: Connection
) -> None:
    _write(session, 2)
    for statement in (
        "UPDATE audit_events SET outcome = 'denied' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))
        savepoint.rollback()
    assert audit.verify_chain(session).ok


def test_edited_row_is_named(session: Session, connection: Connection) -> None:
    _write(session, 5)
    _disable_append_only(connection)
    connection.execute(text("UPDATE audit_events SET outcome = 'denied' WHERE seq = 3"))
    session.expire_all()
    report = audit.verify_chain(session)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "edited")]
    assert "row 3" in report.problems[0].message


def test_deleted_row_is_named(session: Session, connection: Connection) -> None:
    _write(session, 5)
    _disable_append_only(connection)
    connection.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    session.expire_all()
    report = audit.verify_chain(session)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "deleted")]
    assert "row(s) 2 missing" in report.problems[0].message


def test_reordered_rows_are_named(session: Session, connection: Connection) -> None:
    _write(session, 5)
    _disable_append_only(connection)
    # Swap rows 2 and 4 by renumbering them.
    connection.execute(text("UPDATE audit_events SET seq = 1000 WHERE seq = 2"))
    connection.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
    connection.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = 1000"))
    session.expire_all()
    report = audit.verify_chain(session)
    kinds = {(p.seq, p.kind) for p in report.problems}
    assert (2, "reordered") in kinds
    assert (4, "reordered") in kinds
    assert any("written as row 4" in p.message for p in report.problems)


def test_truncated_tail_is_detected(session: Session, connection: Connection) -> None:
    _write(session, 4)
    _disable_append_only(connection)
    connection.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    session.expire_all()
    report = audit.verify_chain(session)
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "truncated")]


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_writers_keep_one_chain(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with transaction(factory) as s:
                    audit.record(
                        s, actor=f"w{n}", tenant="t", action="a", resource=f"r{i}", outcome="ok"
                    )
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        report = audit.verify_chain(s)
    engine.dispose()
    assert report.ok
    assert report.checked == 60
