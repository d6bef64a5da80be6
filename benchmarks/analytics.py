"""The analytics queries over a large prediction log: SQLite, PostgreSQL and chDB over Parquet.

    .venv/bin/python benchmarks/analytics.py [--rows 1000000] [--runs 7] [--seed 17]
                                             [--no-postgres] [--postgres-url URL]
                                             [--chdb-path DIR] [--workdir DIR]
                                             [--results FILE] [--note TEXT]

1. Data (seeded): --rows predictions over 90 days ending now, 90 % of them one tenant's (the
   one asked about) and 10 % another's; two tasks, production v2 then v3, a staging canary v4
   in the last 14 days on 10 % of traffic; about three predictions per distinct text; 0.5 %
   of the tenant's predictions corrected by feedback, 1 % of its distinct texts resolved in a
   labeling project; a failure row per ~1000 predictions. Written into a fresh, migrated
   SQLite file and (unless --no-postgres) a fresh PostgreSQL database (started as the tests
   start theirs, or --postgres-url), by COPY/executemany outside the timing.
2. Queries: each analytics question is the list of statements its service function runs
   (analytics/queries.py): confusion (30 days), accuracy per day (90 days), volume per hour (7
   days) and per day (90 days, every task), A/B (7 days: counts, labelled accuracy, failures,
   latency P50/P95 per arm), drift (14 days against the 7 before). One warm-up, then --runs
   timed runs; P50 and P95 (nearest rank) per question and engine.
3. chDB (embedded ClickHouse), when importable (it is no project dependency: install it
   beside, e.g. `pip install --target DIR chdb` and pass --chdb-path DIR): the tables exported
   to Parquet from SQLite (timed), then the *same SQL* — each statement compiled by SQLAlchemy
   for SQLite with its values inlined — run by chDB over the Parquet files. Every engine's rows
   are compared with SQLite's before timing: a figure for a wrong answer is no figure.

Prints a table and writes --results (default benchmarks/results/analytics.json) with the
machine. Generating and loading 1M rows takes minutes on 2 cores: close other work first."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import math
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import describe
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, Select, create_engine, insert, text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from sentimentops.analytics import queries
from sentimentops.analytics.queries import Scope
from sentimentops.app import schema
from sentimentops.core import db
from sentimentops.identity import service as identity
from sentimentops.identity.models import Tenant
from sentimentops.inference.models import ScoringFailure
from sentimentops.labeling.models import Feedback, LabelingItem, LabelingProject
from sentimentops.tools.detect_drift import _LENGTH_EDGES

REPO_ROOT = Path(__file__).resolve().parents[1]
# tests.services starts a throwaway PostgreSQL exactly as the test suite does.
sys.path.insert(0, str(REPO_ROOT))
from tests.services import start_postgres  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "analytics.json"
DAYS = 90
LABELS = {"sentiment": ("negative", "positive"), "sarcasm": ("not_sarcastic", "sarcastic")}
TABLES = ("predictions", "feedback", "labeling_items", "labeling_projects", "scoring_failures")
PREDICTION_COLUMNS = (
    "id",
    "tenant_id",
    "created_at",
    "task",
    "model_name",
    "model_version",
    "model_alias",
    "label",
    "probability",
    "latency_ms",
    "text_sha256",
    "text_chars",
)


@dataclass(frozen=True)
class Generated:
    tenant: str
    other: str
    now: datetime
    predictions: list[tuple[Any, ...]]  # PREDICTION_COLUMNS, created_at as SQLite stores it
    feedback: list[dict[str, Any]]
    items: list[dict[str, Any]]
    failures: list[dict[str, Any]]


def _stored_time(value: datetime) -> str:
    """How SQLAlchemy stores a DateTime on SQLite (UTC, no offset)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(rows: int, seed: int, tenant: str, other: str, now: datetime) -> Generated:
    """The seeded log described in the module docstring."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, DAYS * 86_400, rows))
    mine = rng.random(rows) < 0.9
    sarcasm = rng.random(rows) < 0.2
    texts = max(1, rows // 3)
    text_ids = rng.integers(0, texts, rows)
    digests = [hashlib.sha256(f"text {i}".encode()).hexdigest() for i in range(texts)]
    truth = rng.integers(0, 2, texts)  # each text's right label
    chars = np.clip(rng.lognormal(4.2, 0.8, texts), 1, 20_000).astype(int)
    start = now - timedelta(days=DAYS)
    recent_canary = seconds > (DAYS - 14) * 86_400
    canary = recent_canary & (rng.random(rows) < 0.1)
    late = seconds > (DAYS - 30) * 86_400
    # Accuracy per version: v2 0.85, v3 0.88, canary v4 0.90.
    accuracy = np.where(canary, 0.90, np.where(late, 0.88, 0.85))
    right = rng.random(rows) < accuracy
    confidence = rng.uniform(0.5, 1.0, rows)
    latency = rng.lognormal(1.0, 0.5, rows) * np.where(canary, 1.3, 1.0)
    predictions: list[tuple[Any, ...]] = []
    for i in range(rows):
        task = "sarcasm" if sarcasm[i] else "sentiment"
        t = int(text_ids[i])
        answer = int(truth[t]) if right[i] else 1 - int(truth[t])
        version = "v4" if canary[i] else ("v3" if late[i] else "v2")
        predictions.append(
            (
                i + 1,
                tenant if mine[i] else other,
                _stored_time(start + timedelta(seconds=float(seconds[i]))),
                task,
                task,
                version,
                "staging" if canary[i] else "production",
                LABELS[task][answer],
                float(confidence[i]),
                float(latency[i]),
                digests[t],
                int(chars[t]),
            )
        )
    ids = np.flatnonzero(mine & (rng.random(rows) < 0.005))
    feedback = [
        {
            "id": uuid.UUID(int=int(rng.integers(0, 2**63))).hex,
            "tenant_id": tenant,
            "idempotency_key": f"bench-{k}",
            "task": predictions[k][3],
            "label": LABELS[predictions[k][3]][int(truth[int(text_ids[k])])],
            "text_sha256": predictions[k][10],
            "text": None,
            "request_id": None,
            "prediction_id": k + 1,
            "model_version": predictions[k][5],
            "predicted_label": predictions[k][7],
            "submitted_by": "bench",
            "created_at": now,
        }
        for k in ids.tolist()
    ]
    labelled_texts = np.flatnonzero(rng.random(texts) < 0.01)
    items = [
        {
            "text_sha256": digests[t],
            "truth": int(truth[t]),
            "position": n,
        }
        for n, t in enumerate(labelled_texts.tolist())
    ]
    failures = [
        {
            "tenant_id": tenant,
            "created_at": start + timedelta(seconds=float(seconds[i])),
            "task": predictions[i][3],
            "model_version": predictions[i][5],
            "model_alias": predictions[i][6],
            "reason": "runtime_error",
            "texts": int(rng.integers(1, 6)),
        }
        for i in np.flatnonzero(mine & (rng.random(rows) < 0.001)).tolist()
    ]
    return Generated(tenant, other, now, predictions, feedback, items, failures)


def _tenants(sessions: Any) -> tuple[str, str]:
    with db.transaction(sessions) as session:
        return (
            identity.create_tenant(session, actor="bench", slug="bench").id,
            identity.create_tenant(session, actor="bench", slug="bench-other").id,
        )


def _labels(session: Session, data: Generated) -> None:
    """One project per task whose items are the labelled texts, resolved with their truth."""
    for task in LABELS:
        project = LabelingProject(
            id=uuid.uuid4().hex,
            tenant_id=data.tenant,
            name=f"bench {task}",
            task=task,
            labels=list(LABELS[task]),
            guidelines="",
            annotators=["bench"],
            items_per_annotator=None,
            overlap=1,
            order="source",
            drift_window_hours=24,
            source_kind="predictions",
            source_dataset_id=None,
            item_count=len(data.items),
            created_by="bench",
            created_at=data.now,
            exports=[],
        )
        session.add(project)
        session.flush()
        rows = [
            {
                "id": uuid.uuid4().hex,
                "tenant_id": data.tenant,
                "project_id": project.id,
                "position": item["position"],
                "text": "(not kept)",
                "text_sha256": item["text_sha256"],
                "source_ref": str(item["position"]),
                "source_label": None,
                "gold_label": None,
                "model_version": None,
                "predicted_label": None,
                "margin": None,
                "disagreement": False,
                "disagreement_note": None,
                "observed_at": None,
                "suspected_error": None,
                "status": "resolved",
                "resolved_label": LABELS[task][item["truth"]],
                "resolved_by": "agreement",
            }
            for item in data.items
        ]
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(LabelingItem), rows[chunk : chunk + 5000])
    for chunk in range(0, len(data.feedback), 5000):
        session.execute(insert(Feedback), data.feedback[chunk : chunk + 5000])
    if data.failures:
        session.execute(insert(ScoringFailure), data.failures)


def load_sqlite(path: Path, rows: int, seed: int, now: datetime) -> Generated:
    url = f"sqlite:///{path}"
    schema.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    tenant, other = _tenants(sessions)
    data = generate(rows, seed, tenant, other, now)
    with db.transaction(sessions) as session:
        _labels(session, data)
    engine.dispose()
    # The log itself through sqlite3: SQLAlchemy's executemany would triple the load time.
    with sqlite3.connect(path) as conn:
        marks = ", ".join("?" * len(PREDICTION_COLUMNS))
        conn.executemany(
            f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) VALUES ({marks})",  # noqa: S608 - fixed names
            data.predictions,
        )
        conn.execute("ANALYZE")
    return data


def load_postgres(url: str, data: Generated) -> None:
    schema.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        for tenant_id, slug in ((data.tenant, "bench"), (data.other, "bench-other")):
            session.add(
                Tenant(
                    id=tenant_id, slug=slug, display_name=slug, created_at=data.now, disabled=False
                )
            )
        session.flush()
        _labels(session, data)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = ", ".join(PREDICTION_COLUMNS)
        with cursor.copy(f"COPY predictions ({columns}) FROM STDIN") as copy:
            for row in data.predictions:
                # SQLite's stored form is UTC: PostgreSQL reads it with the offset added.
                copy.write_row((*row[:2], row[2] + "+00", *row[3:]))
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()


def fresh_postgres_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


# --- The questions -------------------------------------------------------------------------------


Statements = list[Select[*tuple[Any, ...]]]


def questions(data: Generated, dialect: str, ranks: list[tuple[str, int]]) -> dict[str, Statements]:
    """Per question, the statements its service function runs (analytics/service.py)."""
    now = data.now

    def scope(days: int) -> Scope:
        return Scope(
            tenant_id=data.tenant, task="sentiment", since=now - timedelta(days=days), until=now
        )

    aliases = ("production", "staging")
    window: dict[str, Any] = {"tenant_id": data.tenant, "dialect": dialect, "until": now}
    drift_scope = scope(21)
    return {
        "confusion, 30 days": [queries.confusion_counts(scope(30), version=None)],
        "accuracy per day, 90 days": [
            queries.accuracy_counts(scope(90), bucket="day", dialect=dialect, version=None)
        ],
        "volume per hour, 7 days": [
            queries.volume_counts(
                task="sentiment", since=now - timedelta(days=7), bucket="hour", **window
            ),
            queries.failure_counts(
                task="sentiment", since=now - timedelta(days=7), bucket="hour", **window
            ),
        ],
        "volume per day, 90 days, all tasks": [
            queries.volume_counts(
                task=None, since=now - timedelta(days=90), bucket="day", **window
            ),
            queries.failure_counts(
                task=None, since=now - timedelta(days=90), bucket="day", **window
            ),
        ],
        "A/B, 7 days": [
            queries.served_counts(scope(7), aliases),
            queries.labelled_by_alias(scope(7), aliases),
            queries.failed_by_alias(scope(7), aliases),
            *(queries.latency_at_rank(scope(7), alias, rank) for alias, rank in ranks),
        ],
        "drift, 14 days vs 7": [
            queries.score_histogram(drift_scope, dialect=dialect),
            queries.length_histogram(
                drift_scope, dialect=dialect, edges=[float(e) for e in _LENGTH_EDGES]
            ),
        ],
    }


def latency_ranks(session: Session, data: Generated) -> list[tuple[str, int]]:
    """(alias, 0-based rank) of P50 and P95 per arm, as service.ab computes them."""
    scope = Scope(data.tenant, "sentiment", data.now - timedelta(days=7), data.now)
    counts: dict[str, int] = {}
    for alias, _version, n in session.execute(
        queries.served_counts(scope, ("production", "staging"))
    ).all():
        counts[alias] = counts.get(alias, 0) + int(n)
    return [
        (alias, max(1, math.ceil(q * n)) - 1)
        for alias, n in sorted(counts.items())
        for q in (0.5, 0.95)
    ]


# --- Engines -------------------------------------------------------------------------------------


Runner = Callable[[Statements], list[list[tuple[Any, ...]]]]


def sql_runner(engine: Engine) -> Runner:
    def run(statements: Statements) -> list[list[tuple[Any, ...]]]:
        with Session(engine) as session:
            return [[tuple(r) for r in session.execute(s).all()] for s in statements]

    return run


def compiled(statement: Select[*tuple[Any, ...]]) -> str:
    """The statement as SQLite SQL with its values inlined: what chDB is handed."""
    return str(
        statement.compile(dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True})
    )


def export_parquet(sqlite_path: Path, folder: Path) -> dict[str, int]:
    """Every table the queries read, from SQLite to Parquet (zstd); bytes per file."""
    sizes = {}
    with sqlite3.connect(sqlite_path) as conn:
        for table in TABLES:
            frame = pd.read_sql_query(f"SELECT * FROM {table}", conn)  # noqa: S608 - fixed names
            # A column of NULLs only would get Arrow's null type, which ClickHouse cannot read.
            for column in frame.columns[frame.isna().all()]:
                frame[column] = frame[column].astype("string")
            target = folder / f"{table}.parquet"
            frame.to_parquet(target, compression="zstd", index=False)
            sizes[table] = target.stat().st_size
    return sizes


def chdb_runner(chdb: Any, folder: Path) -> Runner:
    session = chdb.session.Session()
    pattern = re.compile(rf"\b(FROM|JOIN) ({'|'.join(TABLES)})\b")

    def over_parquet(sql: str) -> str:
        return pattern.sub(
            lambda m: (
                f"{m.group(1)} file('{folder / m.group(2)}.parquet', Parquet) AS {m.group(2)}"
            ),
            sql,
        )

    def run(statements: Statements) -> list[list[tuple[Any, ...]]]:
        answers = []
        for statement in statements:
            result = session.query(over_parquet(compiled(statement)), "JSONCompact")
            answers.append([tuple(r) for r in json.loads(result.bytes())["data"]])
        return answers

    return run


_BUCKET = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2})?$")


def _normal(value: Any) -> Any:
    """One comparable form per value across engines: PostgreSQL's buckets are datetimes,
    SQLite's and chDB's text; ClickHouse's JSON writes 64-bit integers as text; sums of floats
    differ in their last digits with the order of addition."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H")
    if isinstance(value, str) and _BUCKET.match(value):
        return value if len(value) == 13 else value + " 00"
    try:
        return float(f"{float(value):.9g}")
    except (TypeError, ValueError):
        return value


def same_answers(left: list[list[tuple[Any, ...]]], right: list[list[tuple[Any, ...]]]) -> bool:
    def canonical(answer: list[list[tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
        return [
            sorted((tuple(_normal(v) for v in row) for row in rows), key=repr) for rows in answer
        ]

    return canonical(left) == canonical(right)


def timed(run: Runner, statements: Statements, runs: int) -> tuple[float, float]:
    run(statements)  # warm-up: caches, plans
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(statements)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(1, math.ceil(0.95 * len(times))) - 1]


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    server, stop = start_postgres()
    try:
        yield server
    finally:
        stop()


def run_engines(
    args: argparse.Namespace, console: Console, chdb: Any, work: Path
) -> tuple[list[str], dict[str, dict[str, dict[str, float]]], dict[str, float], dict[str, Any]]:
    """Load, export and time every engine: (engine names, figures, load seconds, export)."""
    sqlite_path = work / "analytics.db"
    sqlite_path.unlink(missing_ok=True)
    now = datetime.now(UTC)

    started = time.perf_counter()
    data = load_sqlite(sqlite_path, args.rows, args.seed, now)
    load_seconds = {"sqlite": time.perf_counter() - started}
    console.print(f"{args.rows:,} predictions into SQLite in {load_seconds['sqlite']:.1f} s")
    sqlite_engine = db.make_engine(f"sqlite:///{sqlite_path}")
    with Session(sqlite_engine) as session:
        ranks = latency_ranks(session, data)
    engines: dict[str, tuple[Runner, dict[str, Statements]]] = {}
    engines["SQLite"] = (sql_runner(sqlite_engine), questions(data, "sqlite", ranks))
    export: dict[str, Any] = {}
    if chdb is not None:
        parquet = work / "parquet"
        parquet.mkdir(exist_ok=True)
        started = time.perf_counter()
        sizes = export_parquet(sqlite_path, parquet)
        export = {"seconds": time.perf_counter() - started, "bytes": sizes}
        console.print(f"Parquet export in {export['seconds']:.1f} s, {sum(sizes.values()):,} bytes")
        # The same statements as SQLite's: compiled for SQLite, run by ClickHouse.
        engines["chDB/Parquet"] = (chdb_runner(chdb, parquet), engines["SQLite"][1])

    with ExitStack() as stack:
        if not args.no_postgres:
            url = fresh_postgres_database(stack.enter_context(postgres(args.postgres_url)))
            started = time.perf_counter()
            load_postgres(url, data)
            load_seconds["postgresql"] = time.perf_counter() - started
            console.print(f"… and PostgreSQL in {load_seconds['postgresql']:.1f} s")
            pg_engine = db.make_engine(url)
            stack.callback(pg_engine.dispose)
            engines["PostgreSQL"] = (sql_runner(pg_engine), questions(data, "postgresql", ranks))
        figures = measure(engines, args.runs, console)
    sqlite_engine.dispose()
    return list(engines), figures, load_seconds, export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url", help="a server to make the database in")
    parser.add_argument("--chdb-path", type=Path, help="a folder where chdb is installed")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite file and Parquet here")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    console = Console(width=140)  # the table fits when piped, too
    if args.chdb_path:
        sys.path.insert(0, str(args.chdb_path))
    try:
        chdb: Any = importlib.import_module("chdb")
        chdb_note = f"chdb {chdb.__version__}"
    except ImportError as exc:
        chdb, chdb_note = None, f"chdb not importable: {exc}"
    with tempfile.TemporaryDirectory(prefix="sentimentops-analytics-") as scratch:
        work = args.workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        names, figures, load_seconds, export = run_engines(args, console, chdb, work)

    table = Table(title=f"analytics queries over {args.rows:,} predictions (ms, {args.runs} runs)")
    table.add_column("question")
    for name in names:
        table.add_column(f"{name} P50", justify="right")
        table.add_column(f"{name} P95", justify="right")
    for question in figures:
        cells = []
        for name in names:
            p50, p95 = figures[question][name]["p50_ms"], figures[question][name]["p95_ms"]
            cells += [f"{p50:.1f}", f"{p95:.1f}"]
        table.add_row(question, *cells)
    console.print(table)
    result = {
        "machine": describe(args.note, chdb=chdb_note),
        "rows": args.rows,
        "runs": args.runs,
        "seed": args.seed,
        "load_seconds": load_seconds,
        "parquet_export": export,
        "queries": figures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written {args.results}")


def measure(
    engines: dict[str, tuple[Runner, dict[str, Statements]]], runs: int, console: Console
) -> dict[str, dict[str, dict[str, float]]]:
    """P50/P95 per question and engine, after checking each engine answers as SQLite does."""
    reference_run, reference_questions = engines["SQLite"]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for question, statements in reference_questions.items():
        expected = reference_run(statements)
        figures[question] = {}
        for name, (run, own) in engines.items():
            if name != "SQLite" and not same_answers(expected, run(own[question])):
                raise SystemExit(f"{name} answers {question!r} differently from SQLite")
            p50, p95 = timed(run, own[question], runs)
            figures[question][name] = {"p50_ms": p50, "p95_ms": p95}
        console.print(f"  {question}: done")
    return figures


if __name__ == "__main__":
    main()
