"""Real services for the test session, started here when the environment does not provide them.

Each `start_*` function returns the address and a stop callable. Set SENTIMENTOPS_TEST_POSTGRES_URL,
SENTIMENTOPS_TEST_REDIS_URL or SENTIMENTOPS_TEST_OPA_URL to use a service that already runs.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sentimentops.app.processes.probes import http_ok, tcp_open, wait_until
from sentimentops.core.settings import REPO_ROOT

TOOLS = REPO_ROOT / ".tools" / "bin"
Stop = Callable[[], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tool(name: str) -> str:
    local = TOOLS / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run scripts/setup")
    return found


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_opa() -> tuple[str, Stop]:
    port = free_port()
    process = subprocess.Popen(
        [
            tool("opa"),
            "run",
            "--server",
            "--addr",
            f"127.0.0.1:{port}",
            "--log-level",
            "error",
            "--ignore",
            "*_test.rego",
            str(REPO_ROOT / "policies" / "rego"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_until(http_ok(f"{url}/health"), timeout=30):
        _terminate(process)
        raise RuntimeError("OPA did not start")
    return url, lambda: _terminate(process)


def start_redis() -> tuple[str, Stop]:
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    if not wait_until(tcp_open("127.0.0.1", port), timeout=20):
        _terminate(process)
        raise RuntimeError("redis-server did not start")
    return f"redis://127.0.0.1:{port}/0", lambda: _terminate(process)


def start_postgres() -> tuple[str, Stop]:
    """A throwaway cluster in a temporary directory, on a free port, trust auth on loopback."""
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup")
    bindir = Path(bindirs[-1])
    workdir = Path(tempfile.mkdtemp(prefix="sentimentops-pg-"))
    datadir = workdir / "data"
    port = free_port()
    # PostgreSQL refuses to run as root; CI runs as root, so run it as the `postgres` user.
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(workdir / "log"),
            "-w",
            "-o",
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(workdir, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def wait_for_exit(pids: list[int], timeout: float = 10.0) -> list[int]:
    """PIDs from `pids` still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.1)
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
