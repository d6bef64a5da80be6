"""The scoring API against the smallest FastAPI + ONNX Runtime app serving the same model, in
one run on one machine: what the platform's authentication, batching, logging and prediction
log cost, and whether batching pays.

    .venv/bin/python benchmarks/scoring_side_by_side.py [--seconds 10] [--rounds 1]
                                                        [--concurrency 1 8 32]
                                                        [--results FILE] [--note TEXT]

Load comes from `wrk` (one thread, keep-alive connections; `scripts/setup` installs it) with a
Lua script cycling through 300 short texts (sarcasm-dataset headlines). Each server runs alone:

    minimal    benchmarks/minimal_app.py: the general sentiment MiniLM of the model pack
               (int8 ONNX), no auth, no batching, no logging, one text per request
    platform   `sentimentops api` serving that same model as production, called with an API
               key (authentication, rate limiting, batching, metrics, prediction log: all on)
    linear     `sentimentops api` serving the TF-IDF + logistic regression model

plus batches of 32 texts per request through the platform against the runtime scoring the
same batches in-process. Prints the table and the issue-16 bars (pass/fail), writes --results
(default benchmarks/results/scoring_side_by_side.json) with the machine. Close other work
first: on 2 cores the load generator and the server already share the CPU.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from machine import describe
from rich.console import Console
from rich.table import Table
from scoring import WORK, _free_port, api_server, prepare

from sentimentops.core.settings import REPO_ROOT
from sentimentops.inference.runtime.onnx_transformer import OnnxTransformer
from sentimentops.training.reference_data import load_task

MODEL = REPO_ROOT / "model_packs" / "minilm" / "sentiment" / "model" / "general"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "scoring_side_by_side.json"
TEXTS = 300
BATCH = 32
console = Console()

LUA = """
local bodies = {%(bodies)s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
request = function()
  i = i + 1
  return wrk.format(nil, "%(path)s", nil, bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, '
    .. '"p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def headlines() -> list[str]:
    sarcasm = load_task("sarcasm", REPO_ROOT / "datasets")
    texts: list[str] = sarcasm[sarcasm["split"] == "test"]["text"].tolist()
    return texts[:TEXTS]


def lua_script(path: str, bodies: list[str], headers: dict[str, str]) -> str:
    for body in bodies:
        if "]==]" in body:
            raise ValueError("a body would end the Lua long string")
    return LUA % {
        "bodies": ",\n".join(f"[==[{b}]==]" for b in bodies),
        "headers": "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
        "path": path,
    }


def wrk(url: str, script: str, concurrency: int, seconds: float) -> dict[str, float]:
    """One wrk run: requests/s and latency percentiles in milliseconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is not installed: run scripts/setup (it installs it)")
    done = subprocess.run(  # noqa: S603 - wrk (setup installs it) with our own arguments
        [
            binary,
            "-t1",
            f"-c{concurrency}",
            f"-d{round(seconds)}s",
            "--timeout",
            "30s",
            "-s",
            f.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    Path(f.name).unlink()
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    found = re.search(r"^RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(found.group(1))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": raw["errors"],
        "req_per_s": raw["requests"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


@contextmanager
def minimal_server() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own app, fixed arguments
        [
            sys.executable,
            "-P",
            str(Path(__file__).with_name("minimal_app.py")),
            str(MODEL),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise SystemExit("the minimal app did not start")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def platform_dir(label: str) -> tuple[Path, Path | None]:
    """The data directory of one platform server, and the pack layout it serves (None: the
    linear models, trained there on the first run)."""
    if label == "linear":
        return WORK / "side-linear", None
    pack = WORK / "side-minilm-pack"
    if not (pack / "sentiment").exists():
        pack.mkdir(parents=True, exist_ok=True)
        (pack / "sentiment").symlink_to(MODEL.resolve(), target_is_directory=True)
    return WORK / "side-minilm", pack


def in_process_batch_rate(texts: list[str], seconds: float) -> float:
    """Texts per second when the runtime scores batches of BATCH in this process."""
    model = OnnxTransformer(MODEL)
    batches = [texts[i : i + BATCH] for i in range(0, len(texts) - BATCH + 1, BATCH)]
    model.predict_proba(batches[0])  # warm-up
    scored, i = 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.predict_proba(batches[i % len(batches)])
        scored += BATCH
        i += 1
    return scored / (time.perf_counter() - started)


def measure(args: argparse.Namespace, texts: list[str]) -> list[dict[str, object]]:
    singles = [json.dumps({"text": t}) for t in texts]
    batches = [
        json.dumps({"texts": texts[i : i + BATCH]}) for i in range(0, len(texts) - BATCH + 1, BATCH)
    ]
    rows: list[dict[str, object]] = []

    def record(server: str, scenario: str, concurrency: int, result: dict[str, float]) -> None:
        rows.append({"server": server, "scenario": scenario, "concurrency": concurrency, **result})
        console.print(
            f"  {server:8} {scenario:7} c={concurrency:<3} p50={result['p50_ms']:.2f} ms "
            f"p95={result['p95_ms']:.2f} ms {result['req_per_s']:.0f} req/s "
            f"errors={result['errors']:.0f}"
        )

    with minimal_server() as base:
        script = lua_script("/score", singles, {})
        for c in args.concurrency:
            record("minimal", "short", c, wrk(f"{base}/score", script, c, args.seconds))
    for label in ("platform", "linear"):
        data_dir, pack = platform_dir(label)
        data_dir.mkdir(parents=True, exist_ok=True)
        _settings, key = prepare(data_dir, pack)
        with api_server(data_dir, ["sentiment"]) as base:
            url = f"{base}/api/v1/sentiment"
            script = lua_script("/api/v1/sentiment", singles, {"X-API-Key": key})
            for c in args.concurrency:
                record(label, "short", c, wrk(url, script, c, args.seconds))
            if label == "platform":
                script = lua_script("/api/v1/sentiment", batches, {"X-API-Key": key})
                for c in (1, 4):
                    result = wrk(url, script, c, args.seconds)
                    result["texts_per_s"] = result["req_per_s"] * BATCH
                    record(label, "batch32", c, result)
    rows.append(
        {
            "server": "in-process",
            "scenario": "batch32",
            "concurrency": 1,
            "texts_per_s": in_process_batch_rate(texts, args.seconds),
        }
    )
    console.print(f"  in-process batch32 {rows[-1]['texts_per_s']:.0f} texts/s")
    return rows


def _pick(
    rows: list[dict[str, object]], server: str, scenario: str, c: int, key: str
) -> list[float]:
    return [
        float(r[key])  # type: ignore[arg-type]
        for r in rows
        if r["server"] == server and r["scenario"] == scenario and r["concurrency"] == c
    ]


def bars(rows: list[dict[str, object]], top: int) -> list[tuple[str, str, bool]]:
    """Issue 16's bars over the rounds' medians: (bar, measured, passed)."""

    def med(server: str, scenario: str, c: int, key: str) -> float:
        values = sorted(_pick(rows, server, scenario, c, key))
        return values[len(values) // 2]

    p50_ratio = med("platform", "short", 1, "p50_ms") / med("minimal", "short", 1, "p50_ms")
    rate_ratio = med("platform", "short", top, "req_per_s") / med(
        "minimal", "short", top, "req_per_s"
    )
    linear_p95 = med("linear", "short", 1, "p95_ms")
    linear_rate = med("linear", "short", top, "req_per_s")
    http_batch = max(med("platform", "batch32", c, "texts_per_s") for c in (1, 4))
    batch_share = http_batch / med("in-process", "batch32", 1, "texts_per_s")
    return [
        ("MiniLM P50 at c=1 ≤ 1.3 × minimal", f"{p50_ratio:.2f} ×", p50_ratio <= 1.3),
        (f"MiniLM req/s at c={top} ≥ 1.5 × minimal", f"{rate_ratio:.2f} ×", rate_ratio >= 1.5),
        ("linear P95 at c=1 ≤ 2 ms", f"{linear_p95:.2f} ms", linear_p95 <= 2.0),
        (f"linear req/s at c={top} ≥ 2,000", f"{linear_rate:.0f}", linear_rate >= 2000),
        ("batch32 over HTTP ≥ 90 % of in-process", f"{batch_share:.0%}", batch_share >= 0.9),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per level (whole seconds)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default=None, help="what else ran on the machine")
    args = parser.parse_args()
    texts = headlines()
    rows: list[dict[str, object]] = []
    for n in range(args.rounds):
        console.print(f"[bold]round {n + 1} of {args.rounds}[/]")
        rows += [{**r, "round": n + 1} for r in measure(args, texts)]

    table = Table(title="Scoring over HTTP: the platform against the minimal app (wrk, loopback)")
    for column in ("server", "scenario", "conc.", "p50 ms", "p95 ms", "p99 ms", "req/s", "texts/s"):
        table.add_column(column, justify="left" if column in ("server", "scenario") else "right")

    def cell(values: list[float], digits: int) -> str:
        if not values:
            return ""
        low, high = min(values), max(values)
        return f"{low:.{digits}f}" if low == high else f"{low:.{digits}f}–{high:.{digits}f}"

    keys = sorted(
        {(str(r["server"]), str(r["scenario"]), int(str(r["concurrency"]))) for r in rows},
        key=lambda k: (["minimal", "platform", "linear", "in-process"].index(k[0]), k[1], k[2]),
    )
    for server, scenario, c in keys:
        texts_per_s = (
            _pick(rows, server, scenario, c, "texts_per_s") if scenario == "batch32" else []
        )
        table.add_row(
            server,
            scenario,
            str(c),
            *(cell(_pick(rows, server, scenario, c, k), 2) for k in ("p50_ms", "p95_ms", "p99_ms"))
            if server != "in-process"
            else ("", "", ""),
            cell(_pick(rows, server, scenario, c, "req_per_s"), 0)
            if server != "in-process"
            else "",
            cell(texts_per_s, 0),
        )
    console.print(table)
    top = max(args.concurrency)
    verdicts = bars(rows, top)
    checks = Table(title="Issue 16 bars (median of the rounds)")
    for column in ("bar", "measured", "met"):
        checks.add_column(column)
    for bar, measured, passed in verdicts:
        checks.add_row(bar, measured, "yes" if passed else "[red]no[/]")
    console.print(checks)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": describe(args.note),
                "seconds_per_level": args.seconds,
                "model": str(MODEL.relative_to(REPO_ROOT)),
                "results": rows,
                "bars": [{"bar": b, "measured": m, "met": p} for b, m, p in verdicts],
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    console.print(f"saved {args.results}")


if __name__ == "__main__":
    main()
