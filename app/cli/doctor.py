"""`sentimentops doctor`: check tools, ports, services and versions, and say how to fix each."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentimentops.app.cli.common import console, fail, load_settings

if TYPE_CHECKING:
    from sentimentops.core.settings import Settings

EXPECTED_TOOLS = {"temporal": "1.5.1", "opa": "1.22.3"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _tool_version(settings: Settings, name: str) -> Check:
    from sentimentops.app.processes.specs import ToolMissing, find_tool

    try:
        path = find_tool(settings, name)
    except ToolMissing as exc:
        return Check(f"tool {name}", False, "not found", str(exc))
    result = subprocess.run(  # noqa: S603
        [str(path), "version" if name == "opa" else "--version"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    first_line = (result.stdout or result.stderr).strip().splitlines()[:1]
    version = first_line[0] if first_line else "unknown"
    expected = EXPECTED_TOOLS[name]
    ok = result.returncode == 0 and expected in version
    return Check(
        f"tool {name}", ok, f"{path}: {version}", "" if ok else f"run `scripts/setup` ({expected})"
    )


def _database(settings: Settings) -> Check:
    from sqlalchemy import text

    from sentimentops.core.db import make_engine

    try:
        engine = make_engine(settings.resolved_database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM audit_chain_head"))
        engine.dispose()
        return Check("database", True, engine.url.render_as_string(hide_password=True))
    except Exception as exc:  # noqa: BLE001 - reported to the user
        return Check(
            "database",
            False,
            str(exc).splitlines()[0][:160],
            "check SENTIMENTOPS_DATABASE_URL, then `sentimentops db upgrade`",
        )


def _ports(settings: Settings) -> list[Check]:
    from sentimentops.app.processes import supervisor
    from sentimentops.app.processes.probes import port_in_use

    ours = {s.name for s in supervisor.read_state(settings) if supervisor.is_alive(s)}
    wanted = {"api": [settings.api_port]}
    if settings.embedded_temporal:
        wanted["temporal"] = [settings.temporal_port, settings.temporal_ui_port]
    if settings.embedded_opa:
        wanted["opa"] = [settings.opa_port]
    checks = []
    for name, ports in wanted.items():
        for port in ports:
            busy = port_in_use(port)
            ok = not busy or name in ours
            detail = "free" if not busy else ("used by our " + name if ok else "in use")
            fix = "" if ok else f"free port {port} or set another (see `sentimentops up --help`)"
            checks.append(Check(f"port {port} ({name})", ok, detail, fix))
    return checks


def _external(settings: Settings) -> list[Check]:
    import asyncio

    import redis

    from sentimentops.app.processes.probes import tcp_open
    from sentimentops.core.policy import OpaPolicyEngine

    checks = []
    if not settings.embedded_temporal:
        host, _, port = settings.resolved_temporal_address.rpartition(":")
        ok = tcp_open(host, int(port))()
        checks.append(
            Check(
                "temporal (external)",
                ok,
                settings.resolved_temporal_address,
                "" if ok else "check SENTIMENTOPS_TEMPORAL_ADDRESS",
            )
        )
    if not settings.embedded_opa:
        ok = asyncio.run(OpaPolicyEngine(settings.resolved_opa_url).healthy())
        checks.append(
            Check(
                "opa (external)",
                ok,
                settings.resolved_opa_url,
                "" if ok else "check SENTIMENTOPS_OPA_URL",
            )
        )
    if settings.redis_url:
        try:
            ok = bool(redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping())
            detail = "PONG"
        except redis.RedisError as exc:
            ok, detail = False, str(exc)[:160]
        checks.append(Check("redis", ok, detail, "" if ok else "check SENTIMENTOPS_REDIS_URL"))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    checks = [
        Check(
            "python",
            sys.version_info[:2] == (3, 11),
            sys.version.split()[0],
            "use Python 3.11 (scripts/setup creates .venv with it)",
        ),
        Check(
            "data directory",
            _writable(settings),
            str(settings.data_dir),
            "make it writable or set SENTIMENTOPS_DATA_DIR",
        ),
    ]
    if settings.embedded_temporal:
        checks.append(_tool_version(settings, "temporal"))
    if settings.embedded_opa:
        checks.append(_tool_version(settings, "opa"))
    checks.append(_database(settings))
    checks += _ports(settings)
    checks += _external(settings)
    return checks


def _writable(settings: Settings) -> bool:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        return True
    except OSError:
        return False


def doctor() -> None:
    """Check tools, ports, services and versions; print how to fix what is wrong."""
    from rich.table import Table

    settings = load_settings()
    checks = run_checks(settings)
    table = Table("check", "", "detail", "how to fix")
    for c in checks:
        # The fix is advice for a failed check only: under a passing one it reads as a problem.
        fix = "" if c.ok else c.fix
        table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.detail, fix)
    console.print(table)
    failed = [c for c in checks if not c.ok and c.required]
    if failed:
        fail(f"{len(failed)} check(s) failed")
    console.print("[green]all checks passed[/]")
