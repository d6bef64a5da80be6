"""HTTP load benchmark of the scoring API (loopback only, bounded in time).

    .venv/bin/python benchmarks/scoring.py [--seconds 5] [--concurrency 1 8 32]
                                           [--onnx-pack DIR] [--task sentiment|sarcasm]
                                           [--results FILE]

Starts the real API process (`sentimentops api`, one uvicorn worker) on a free loopback port
against a benchmark data directory (benchmarks/.work/<model>; the first run trains the linear
models there, later runs reuse them), creates a service account and API key, then drives it
with an asyncio HTTP client at each concurrency for each scenario:

    short   one short text (a sarcasm-dataset headline, ~10 words) per request
    review  one IMDB review truncated to ~250 words per request
    batch   32 short texts per request

`--onnx-pack DIR` also benchmarks transformer models: DIR holds `sentiment/` and/or `sarcasm/`
serving artifacts (format sentimentops.onnx_transformer/v1; a model pack's `<task>/model/`
works too), registered as production in a data directory of their own per pack. `--task`
picks the route every scenario calls (default sentiment).
The load generator shares the machine with the server: on a 2-core machine the client takes
part of the CPU, so these numbers are a lower bound for a dedicated server.
Prints a table and writes --results (default benchmarks/results/scoring.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from machine import describe
from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.table import Table

from sentimentops.app import schema
from sentimentops.core import db
from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity
from sentimentops.training.reference_data import load_task

WORK = REPO_ROOT / "benchmarks" / ".work"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "scoring.json"
console = Console()


@dataclass
class Scenario:
    name: str
    route: str
    bodies: list[dict[str, object]]


def scenarios(task: str) -> list[Scenario]:
    datasets = REPO_ROOT / "datasets"
    sarcasm = load_task("sarcasm", datasets)
    imdb = load_task("sentiment", datasets)
    headlines = sarcasm[sarcasm["split"] == "test"]["text"].tolist()[:2000]
    reviews = [
        " ".join(t.split()[:250])
        for t in imdb[imdb["split"] == "test"]["text"].tolist()[:2000]
        if len(t.split()) >= 250
    ]
    return [
        Scenario("short", f"/api/v1/{task}", [{"text": t} for t in headlines]),
        Scenario("review", f"/api/v1/{task}", [{"text": t} for t in reviews]),
        Scenario(
            "batch32",
            f"/api/v1/{task}",
            [{"texts": headlines[i : i + 32]} for i in range(0, len(headlines) - 32, 32)],
        ),
    ]


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare(data_dir: Path, onnx_pack: Path | None) -> tuple[Settings, str]:
    """Models in the registry, a migrated database and an API key; returns settings + key."""
    # The linear baseline must not pick up the committed model pack, as `up` would.
    settings = Settings(data_dir=data_dir, model_pack_dir=data_dir / "no-pack", _env_file=None)
    schema.upgrade(settings.resolved_database_url)
    if onnx_pack is None:
        from sentimentops.tools.promotions import promote_first_production
        from sentimentops.training.bootstrap import ensure_serving_models

        ensure_serving_models(
            settings,
            promote=lambda task, version: promote_first_production(settings, task, version),
            on_step=lambda m: console.print(f"  {m}"),
        )
    else:
        from sentimentops.training.service import model_registry

        client = model_registry(settings).client
        for task in settings.serving_tasks:
            artifact = onnx_pack / task
            if (artifact / "model").is_dir():  # a model pack's layout
                artifact = artifact / "model"
            if not artifact.is_dir():
                continue  # not in this pack: the task is not benchmarked
            with contextlib.suppress(MlflowException):
                client.get_model_version_by_alias(task, "production")
                continue  # already registered by an earlier run
            experiment = client.get_experiment_by_name("bench") or client.get_experiment(
                client.create_experiment(
                    "bench", artifact_location=str(settings.mlflow_dir / "artifacts")
                )
            )
            run = client.create_run(experiment.experiment_id)
            client.log_artifacts(run.info.run_id, str(artifact), "model")
            with contextlib.suppress(MlflowException):  # already registered
                client.create_registered_model(task)
            version = client.create_model_version(
                task, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
            )
            client.set_registered_model_alias(task, "production", version.version)
    sessions = db.make_session_factory(db.make_engine(settings.resolved_database_url))
    with db.transaction(sessions) as session:
        tenant = identity.tenant_by_slug(session, "bench") or identity.create_tenant(
            session, actor="benchmark", slug="bench"
        )
        # A fresh account per run; the benchmark is a tenant like any other.
        account = identity.create_service_account(
            session,
            actor="benchmark",
            tenant=tenant,
            name=f"load-{int(time.time())}",
            kind=PrincipalKind.SERVICE,
            roles=frozenset({Role.VIEWER}),
        )
        key = identity.create_api_key(
            session, actor="benchmark", tenant=tenant, account=account.account, name="load"
        )
    return settings, key.secret


async def drive(
    base: str, key: str, scenario: Scenario, concurrency: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    texts = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=30
    ) as client:

        async def worker(offset: int) -> None:
            nonlocal errors, texts
            i = offset
            while time.perf_counter() < deadline:
                body = scenario.bodies[i % len(scenario.bodies)]
                started = time.perf_counter()
                response = await client.post(scenario.route, json=body)
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    latencies.append(elapsed)
                    texts += len(body.get("texts", [None]))  # type: ignore[arg-type]
                else:
                    errors += 1
                i += concurrency

        # Warm-up: connections, first batches, caches.
        for body in scenario.bodies[:20]:
            await client.post(scenario.route, json=body)
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000,
        "req_per_s": len(latencies) / wall,
        "texts_per_s": texts / wall,
    }


@contextlib.contextmanager
def api_server(
    data_dir: Path, tasks: list[str] | None = None, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """The real API process (`sentimentops api`) on a free loopback port over `data_dir`,
    ready (and its knowledge base open, so that no background work competes with the load);
    yields its base URL. `tasks`: serve (and wait for) only these; `settings`: more
    SENTIMENTOPS_* variables (e.g. {"ORT_THREADS": "1"})."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(data_dir),
        "SENTIMENTOPS_API_PORT": str(port),
        "SENTIMENTOPS_LOG_LEVEL": "WARNING",
        "SENTIMENTOPS_RATE_LIMIT_PER_SECOND": "1000000",
        "SENTIMENTOPS_RATE_LIMIT_BURST": "1000000",
    }
    if tasks is not None:
        env["SENTIMENTOPS_SERVING_TASKS"] = json.dumps(tasks)
    env.update({f"SENTIMENTOPS_{name}": value for name, value in (settings or {}).items()})
    log = (data_dir / "api.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-P", "-m", "sentimentops.app.cli", "api"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait_ready(base, data_dir):
            raise SystemExit(f"API did not become ready; see {data_dir / 'api.log'}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_ready(base: str, data_dir: Path) -> bool:
    from sentimentops.knowledge_base.embedding import encoder_path, is_current

    settings = Settings(data_dir=data_dir, _env_file=None)
    with_kb = importlib.util.find_spec("qdrant_client") is not None
    # Ready, and the knowledge base's encoder exported (a first start exports it in the
    # background, which would otherwise run during the first measurements).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            ready = httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            if ready and (not with_kb or is_current(encoder_path(settings))):
                time.sleep(2)  # the encoder's session loads after the export
                return True
        time.sleep(0.5)
    return False


def run_model(
    label: str, onnx_pack: Path | None, args: argparse.Namespace, cases: list[Scenario]
) -> list[dict[str, object]]:
    # One data directory per pack: a registry prepared for one pack never serves another.
    data_dir = WORK / (label if onnx_pack is None else f"{label}-{_digest(onnx_pack)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]{label}[/]: preparing {data_dir}")
    _settings, key = prepare(data_dir, onnx_pack)
    tasks = None
    if onnx_pack is not None:  # serve (and wait for) only the tasks the pack holds
        tasks = [t for t in ("sentiment", "sarcasm") if (onnx_pack / t).is_dir()]
    rows: list[dict[str, object]] = []
    with api_server(data_dir, tasks) as base:
        for scenario in cases:
            for concurrency in args.concurrency:
                result = asyncio.run(drive(base, key, scenario, concurrency, args.seconds))
                rows.append(
                    {
                        "model": label,
                        "scenario": scenario.name,
                        "concurrency": concurrency,
                        **result,
                    }
                )
                console.print(
                    f"  {scenario.name:7} c={concurrency:<3} p95={result['p95_ms']:.2f} ms "
                    f"{result['req_per_s']:.0f} req/s errors={result['errors']}"
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--onnx-pack", type=Path, help="transformer serving artifacts")
    parser.add_argument("--task", choices=["sentiment", "sarcasm"], default="sentiment")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--fresh", action="store_true", help="delete benchmarks/.work first")
    args = parser.parse_args()
    if args.fresh:
        shutil.rmtree(WORK, ignore_errors=True)
    cases = scenarios(args.task)
    rows = run_model("linear", None, args, cases)
    if args.onnx_pack:
        rows += run_model("onnx", args.onnx_pack, args, cases)

    table = Table(title="Scoring API over HTTP (loopback)")
    for column in (
        "model",
        "scenario",
        "conc.",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "texts/s",
        "errors",
    ):
        table.add_column(column, justify="right" if column not in ("model", "scenario") else "left")
    for r in rows:
        table.add_row(
            str(r["model"]),
            str(r["scenario"]),
            str(r["concurrency"]),
            f"{r['p50_ms']:.2f}",
            f"{r['p95_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['req_per_s']:.0f}",
            f"{r['texts_per_s']:.0f}",
            str(r["errors"]),
        )
    console.print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": describe(),
                "seconds_per_level": args.seconds,
                "task": args.task,
                "onnx_pack": str(args.onnx_pack) if args.onnx_pack else None,
                "results": rows,
            },
            indent=2,
        )
    )
    console.print(f"saved {args.results}")


if __name__ == "__main__":
    main()
