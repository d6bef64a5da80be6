"""`sentimentops up`, `status` and `down` as a user runs them: real processes (Temporal dev
server, OPA, worker, API) on free ports in a temporary data directory; `up`'s refusals before it
changes anything; a foreground `up` stopped by `down`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from sentimentops.app.processes import supervisor
from sentimentops.app.processes.specs import ServiceSpec
from sentimentops.core.settings import Settings
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.services import free_port, wait_for_exit

CLI = [sys.executable, "-P", "-m", "sentimentops.app.cli"]


def _cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(data_dir),
        # A common terminal width: what `up` prints to be copied must survive it unwrapped.
        "COLUMNS": "80",
        **{f"SENTIMENTOPS_{name}_PORT": str(port) for name, port in ports.items()},
    }


def _with_models(data_dir: Path) -> None:
    """Production models already registered (small real ONNX ones): with --no-model-pack, `up`
    skips the first-run import and training that tests/training covers, and the API becomes
    ready once it loads them."""
    registry = f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}"
    (data_dir / "mlflow").mkdir(parents=True)
    for task in ("sentiment", "sarcasm"):
        artifact = make_onnx_artifact(data_dir / f"m-{task}", task=task)
        register(registry, task, artifact, "production")


def _ports() -> dict[str, int]:
    return {name: free_port() for name in ("API", "TEMPORAL", "TEMPORAL_UI", "OPA")}


def _stop(
    data_dir: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    state = data_dir / "run" / "platform.json"
    pids = [s["pid"] for s in json.loads(state.read_text())["services"]] if state.exists() else []
    return _cli("down", env=env), pids


def test_up_status_down(tmp_path: Path) -> None:
    _with_models(tmp_path)
    ports = _ports()
    env = _env(tmp_path, ports)
    up = _cli("up", "--detach", "--no-model-pack", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        prose = " ".join(up.stdout.split())  # sentences may wrap at 80 columns
        assert "completed, policy said allowed" in prose
        assert "one-time bootstrap token" in prose
        assert f"http://127.0.0.1:{ports['TEMPORAL_UI']}/namespaces/default/workflows/" in up.stdout

        # The bootstrap command, pasted as printed (one line, 80 columns notwithstanding),
        # creates the first admin.
        [command] = [line.strip() for line in up.stdout.splitlines() if "curl -X POST" in line]
        assert re.fullmatch(r"curl .* -d '\{\"bootstrap_token\": \"[\w-]+\"\}'", command)
        pasted = subprocess.run(
            ["bash", "-c", f"{command} -s"], capture_output=True, text=True, timeout=60, check=False
        )
        assert "client_secret" in pasted.stdout, pasted.stdout + pasted.stderr

        api = f"http://127.0.0.1:{ports['API']}"
        assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{api}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["model:sentiment"] is True
        assert httpx.get(f"http://127.0.0.1:{ports['OPA']}/health").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['TEMPORAL_UI']}/").status_code == 200

        status = _cli("status", env=env)
        assert status.returncode == 0, status.stdout
        assert all(name in status.stdout for name in ("temporal", "opa", "worker", "api"))

        again = _cli("up", "--detach", env=env)
        assert again.returncode == 1
        assert "already running" in again.stderr
        assert "migrating" not in again.stdout  # refused before it changed anything

        verify = _cli("audit", "verify", env=env)
        assert verify.returncode == 0
        assert "rows verified" in verify.stdout
    finally:
        down, pids = _stop(tmp_path, env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped: api, worker, opa, temporal" in down.stdout
    assert wait_for_exit(pids) == []
    assert _cli("status", env=env).returncode == 3


def test_down_stops_a_foreground_up_cleanly(tmp_path: Path) -> None:
    _with_models(tmp_path)
    env = _env(tmp_path, _ports())
    log = tmp_path / "up.out"
    with log.open("w") as out:
        up = subprocess.Popen(
            [*CLI, "up", "--no-model-pack"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 240
        while "to stop" not in log.read_text() and up.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert up.poll() is None, log.read_text()
        down, pids = _stop(tmp_path, env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.wait(timeout=120) == 0, log.read_text()
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=120)
    printed = log.read_text()
    assert "stopped by `sentimentops down`" in printed
    assert "exited unexpectedly" not in printed
    assert wait_for_exit(pids) == []
    assert not (tmp_path / "run" / "stop-requested").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_up_on_busy_ports_refuses_before_touching_the_data_directory(
    tmp_path: Path, busy_port: int
) -> None:
    data_dir = tmp_path / "second"
    env = _env(data_dir, {**_ports(), "API": busy_port})
    refused = _cli("up", "--detach", env=env)
    assert refused.returncode == 1
    assert f"api needs {busy_port}" in refused.stderr
    assert not data_dir.exists()  # no database, no model import, not even the folder


def test_up_while_running_refuses_before_migrating(tmp_path: Path) -> None:
    # A state file naming a live process (this test) is what a running platform leaves.
    me = psutil.Process()
    running = {
        "name": "api",
        "pid": me.pid,
        "create_time": me.create_time(),
        "url": "-",
        "log": "-",
    }
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "platform.json").write_text(json.dumps({"services": [running]}))
    refused = _cli("up", "--detach", env=_env(tmp_path, _ports()))
    assert refused.returncode == 1
    assert "already running" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _sleepers(tmp_path: Path) -> tuple[Settings, list[supervisor.RunningService]]:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    spec = ServiceSpec(name="sleeper", argv=["sleep", "60"], url="-", probe=lambda: True, ports=[])
    return settings, supervisor.start_all(settings, [spec])


def test_watch_reads_a_requested_stop_as_a_stop(tmp_path: Path) -> None:
    settings, services = _sleepers(tmp_path)

    def down() -> None:
        time.sleep(0.3)
        supervisor.request_stop(settings)
        supervisor.stop_all(settings)

    stopper = threading.Thread(target=down)
    stopper.start()
    try:
        assert supervisor.watch(settings, services, interval=0.05) is None
    finally:
        stopper.join()
    assert supervisor.first_alive(services) is None


def test_watch_reports_a_service_that_dies_unasked(tmp_path: Path) -> None:
    settings, services = _sleepers(tmp_path)
    os.kill(services[0].pid, signal.SIGKILL)
    try:
        dead = supervisor.watch(settings, services, interval=0.05)
    finally:
        supervisor.stop_all(settings)
    assert dead is not None
    assert dead.name == "sleeper"
