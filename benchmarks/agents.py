"""How fast the planner answers: time to the first event and to the complete answer or draft plan,
with the deterministic backend (no LLM), through the same flow the API and the chat CLI call.

    .venv/bin/python benchmarks/agents.py [--runs 20] [--results FILE] [--note TEXT]

Starts its own OPA (the real policies, from .tools/bin/opa), a SQLite database migrated to head
in a temporary directory with a tenant and an hour of scoring telemetry (2,000 predictions per
task), and reads models from the committed model pack (model_packs/minilm) as the registry.
Each run is a new thread; the first run of each request is untimed (imports, caches). A turn's
time includes the agent's token (issued and verified like any caller's), its policy checks,
audit rows and reads. Prints a table and writes --results (default
benchmarks/results/agents.json). Close other work first: the machine's load is the figure's."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.agents import flows
from sentimentops.agents.schemas import MessageIn, ThreadIn
from sentimentops.agents.wiring import open_agent_runtime
from sentimentops.app.schema import upgrade
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.flows import FlowContext
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.inference.models import PredictionRecord
from sentimentops.inference.packs import PackRegistry

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "agents.json"
PACK = REPO_ROOT / "model_packs" / "minilm"
REQUESTS = [
    "why did sarcasm latency go up since yesterday?",
    "is the sentiment model drifting?",
    "compare the last two sarcasm versions",
    "roll sentiment back",
    "retrain sarcasm on the newest dataset version and canary it at 10 %",
    "what would it take to get sentiment above 94 %?",
]
console = Console()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def opa_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    binary = settings.tools_dir / "opa"
    if not binary.is_file():
        raise SystemExit(f"{binary} not found: run scripts/setup first")
    process = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [str(binary), "run", "--server", "--addr", f"127.0.0.1:{port}", str(settings.policies_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def seed(settings: Settings) -> Principal:
    """A tenant, its asker, and an hour of telemetry (a latency step half-way through)."""
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    rng = random.Random(7)  # noqa: S311 - synthetic telemetry, not secrets
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        tenant = identity.create_tenant(session, actor="bench", slug="acme")
        for task in ("sentiment", "sarcasm"):
            for i in range(2000):
                late = i >= 1000
                session.add(
                    PredictionRecord(
                        tenant_id=tenant.id,
                        created_at=now - timedelta(seconds=3600 - i * 1.8),
                        task=task,
                        model_name=task,
                        model_version="2" if late else "1",
                        model_alias="production",
                        label=rng.choice(["positive", "negative"]),
                        probability=rng.uniform(0.5, 1.0),
                        latency_ms=rng.gauss(14.0 if late else 6.0, 1.5),
                        text_sha256=uuid.uuid4().hex * 2,
                        text_chars=rng.randint(10, 200),
                    )
                )
        return Principal(
            tenant_id=tenant.id,
            tenant=tenant.slug,
            subject="bench",
            name="bench",
            kind=PrincipalKind.HUMAN,
            roles=frozenset({Role.ML_ENGINEER}),
            method=AuthMethod.FIRST_PARTY,
        )


async def measure(
    settings: Settings, asker: Principal, opa_url: str, runs: int
) -> list[dict[str, Any]]:
    sessions = make_session_factory(make_engine(settings.resolved_database_url))

    async def no_temporal() -> object:
        raise RuntimeError("the benchmark never submits")

    ctx = FlowContext(
        settings=settings,
        sessions=sessions,
        read_sessions=sessions,
        connect_temporal=no_temporal,  # type: ignore[arg-type]
    )
    registry = PackRegistry(PACK)
    rows = []
    replies: dict[str, str] = {}
    async with open_agent_runtime(
        ctx, registry=lambda: registry, policy=OpaPolicyEngine(opa_url)
    ) as rt:
        for request in REQUESTS:
            first: list[float] = []
            complete: list[float] = []
            kinds: set[str] = set()
            for attempt in range(runs + 1):
                thread = await flows.create_thread_flow(rt, asker, ThreadIn())
                started = time.perf_counter()
                events = await flows.post_message_flow(
                    rt, asker, thread.id, MessageIn(content=request)
                )
                first_at = None
                last_kind = ""
                async for event in events:
                    if first_at is None:
                        first_at = time.perf_counter() - started
                    last_kind = event.type
                    last = event
                done = time.perf_counter() - started
                if attempt == 0:
                    replies[request] = last.model_dump_json(indent=1)
                    continue  # warm-up
                first.append((first_at or done) * 1000)
                complete.append(done * 1000)
                kinds.add(last_kind)
            rows.append(
                {
                    "request": request,
                    "ends_with": sorted(kinds),
                    "runs": runs,
                    "first_event_ms_median": statistics.median(first),
                    "complete_ms_median": statistics.median(complete),
                    "complete_ms_p95": sorted(complete)[max(0, int(len(complete) * 0.95) - 1)],
                    "reply": replies[request],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="the machine and its load, for the record")
    parser.add_argument("--show", action="store_true", help="print each request's last event")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentimentops-agents-bench-") as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/bench.db",
            log_level="WARNING",
            log_json=False,
        )
        upgrade(settings.resolved_database_url)
        asker = seed(settings)
        with opa_server(settings) as opa_url:
            settings = settings.model_copy(update={"opa_url": opa_url})
            rows = asyncio.run(measure(settings, asker, opa_url, args.runs))

    table = Table(title=f"Planner (deterministic backend), {args.runs} turns each")
    table.add_column("request")
    table.add_column("ends with")
    for column in ("first event ms", "complete ms (median)", "complete ms (p95)"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["request"],
            ", ".join(r["ends_with"]),
            f"{r['first_event_ms_median']:.0f}",
            f"{r['complete_ms_median']:.0f}",
            f"{r['complete_ms_p95']:.0f}",
        )
    console.print(table)
    if args.show:
        for r in rows:
            console.print(f"[bold]{r['request']}[/bold]")
            console.print(r["reply"], markup=False, highlight=False)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": describe(args.note),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
