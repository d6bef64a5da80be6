"""Wall time of CLI commands that should answer at once (no platform needed).

    .venv/bin/python benchmarks/cli_startup.py [--runs 5] [--results FILE] [--note TEXT]
                                               [--cli "COMMAND"] [--baseline FILE]

Runs each command below as a fresh process (`.venv/bin/sentimentops …`, what a person types)
`--runs` times and reports the median, minimum and maximum wall time, in two modes:

    compiled     no bytecode cache: every imported module is compiled from source on every
                 run, as in an environment with PYTHONDONTWRITEBYTECODE=1 (this VM's shell
                 sets it, so scripts/setup leaves no .pyc files either)
    cached       Python's default: .pyc files written by a first, untimed run are reused

Both modes keep their .pyc files (or none) under a temporary PYTHONPYCACHEPREFIX, so the run
writes nothing into the repository or the virtual environment. The commands:

    --help               the top-level help
    admin --help         a command group's help
    approvals --help     another group (its module imports the approvals domain lazily)
    status               the platform's processes; against a data directory where nothing
                         runs it answers "not running" (exit 3), which is the case measured

The commands read an empty temporary data directory and a SQLite database in it, so nothing
outside is touched. Import costs dominate: `python -X importtime -c "import
sentimentops.app.cli.main"` says where they come from. The figures depend on the load of the
machine; `--note` records it (e.g. "2-core VM, other work running").
`--cli` times another entry point instead of .venv/bin/sentimentops (e.g. a script that runs an
older checkout's `sentimentops.app.cli.main:app`, for a before/after comparison); `--baseline`
keeps such a run's results file in this one (key `baseline`) and prints its medians beside.
Prints a table and writes --results (default benchmarks/results/cli_startup.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import describe
from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "cli_startup.json"
CLI = Path(sys.executable).with_name("sentimentops")
# (command line, exit status it answers with)
COMMANDS: list[tuple[list[str], int]] = [
    (["--help"], 0),
    (["admin", "--help"], 0),
    (["approvals", "--help"], 0),
    (["status"], 3),  # "not running": nothing was started from the temporary data directory
]
MODES = ("compiled", "cached")
TARGET_SECONDS = 1.5  # the bar for these commands on the 2-core development VM
console = Console()


def time_once(cli: list[str], args: list[str], expected: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [*cli, *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != expected:
        raise SystemExit(
            f"`sentimentops {' '.join(args)}` exited {done.returncode} (expected {expected}):\n"
            f"{done.stdout}{done.stderr}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="the machine and its load, for the record")
    parser.add_argument("--cli", default=str(CLI), help="the command to time (shell words)")
    parser.add_argument("--baseline", type=Path, help="an earlier results file to compare with")
    args = parser.parse_args()
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    before = {(r["mode"], r["command"]): r["median_s"] for r in (baseline or {}).get("results", [])}
    cli = shlex.split(args.cli)
    if not Path(cli[0]).is_file():
        raise SystemExit(f"{cli[0]} not found: run scripts/setup first")

    rows = []
    with tempfile.TemporaryDirectory(prefix="sentimentops-cli-bench-") as tmp:
        base = {
            **os.environ,
            "SENTIMENTOPS_DATA_DIR": tmp,
            "SENTIMENTOPS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "NO_COLOR": "1",
        }
        for mode in MODES:
            env = {**base, "PYTHONPYCACHEPREFIX": f"{tmp}/pycache-{mode}"}
            if mode == "compiled":
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            else:
                env.pop("PYTHONDONTWRITEBYTECODE", None)
            for command, expected in COMMANDS:
                # Untimed: warms the file cache, and in "cached" mode writes the .pyc files.
                time_once(cli, command, expected, env)
                times = [time_once(cli, command, expected, env) for _ in range(args.runs)]
                rows.append(
                    {
                        "mode": mode,
                        "command": "sentimentops " + " ".join(command),
                        "runs": args.runs,
                        "median_s": statistics.median(times),
                        "min_s": min(times),
                        "max_s": max(times),
                    }
                )

    table = Table(title=f"CLI wall time, {args.runs} runs each (target < {TARGET_SECONDS} s)")
    table.add_column("bytecode")
    table.add_column("command")
    for column in ("median s", "min s", "max s", "baseline median s"):
        table.add_column(column, justify="right")
    for r in rows:
        seconds = [f"{r[key]:.2f}" for key in ("median_s", "min_s", "max_s")]
        earlier = before.get((r["mode"], r["command"]))
        table.add_row(
            r["mode"], r["command"], *seconds, "-" if earlier is None else f"{earlier:.2f}"
        )
    console.print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": describe(args.note),
                "cli": args.cli,
                "target_s": TARGET_SECONDS,
                "results": rows,
                "baseline": baseline,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"saved {args.results}")


if __name__ == "__main__":
    main()
