"""Database engine and sessions (SQLAlchemy 2). SQLite by default, PostgreSQL in scale-out; the
schema is owned by Alembic (app/migrations, applied by app/schema.py), never by `create_all`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

READ_ONLY_OPTION = "sentimentops_read_only"


class Base(DeclarativeBase):
    """Declarative base of every table of the application."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python 3.11's sqlite3 opens transactions implicitly and breaks SAVEPOINT; take over
    # transaction control (SQLAlchemy's documented recipe), then emit BEGIN in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker writes; the busy timeout turns lock contention
    # between processes into waiting instead of "database is locked" errors.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then writes
    # fails at once with "database is locked" when another connection writes meanwhile (SQLite
    # cannot wait there without risking deadlock); taking the lock first makes it wait instead.
    # Read-only sessions (make_read_session_factory) begin deferred, so that reads never queue
    # behind writers (WAL lets them read a consistent snapshot meanwhile).
    deferred = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads (authentication on the hot path). Writing in them can
    fail on SQLite when another connection wrote meanwhile: use make_session_factory for that."""
    return sessionmaker(
        bind=engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session
