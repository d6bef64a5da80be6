"""`sentimentops up --detach`, `status` and `down` as a user runs them: real processes (Temporal
dev server, OPA, worker, API) on free ports in a temporary data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.services import free_port, wait_for_exit


def _cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "sentimentops.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_status_down(tmp_path: Path) -> None:
    # Production models already registered (small real ONNX ones), so `up` skips the first-run
    # training that tests/training covers, and the API becomes ready once it loads them.
    registry = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    for task in ("sentiment", "sarcasm"):
        register(
            registry, task, make_onnx_artifact(tmp_path / f"m-{task}", task=task), "production"
        )
    ports = {name: free_port() for name in ("API", "TEMPORAL", "TEMPORAL_UI", "OPA")}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(tmp_path),
        "COLUMNS": "250",
        **{f"SENTIMENTOPS_{name}_PORT": str(port) for name, port in ports.items()},
    }
    up = _cli("up", "--detach", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "completed, policy said allowed" in up.stdout
        assert "one-time bootstrap token" in up.stdout
        assert f"http://127.0.0.1:{ports['TEMPORAL_UI']}/namespaces/default/workflows/" in up.stdout

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

        verify = _cli("audit", "verify", env=env)
        assert verify.returncode == 0
        assert "rows verified" in verify.stdout
    finally:
        state = tmp_path / "run" / "platform.json"
        pids = (
            [s["pid"] for s in json.loads(state.read_text())["services"]] if state.exists() else []
        )
        down = _cli("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped: api, worker, opa, temporal" in down.stdout
    assert wait_for_exit(pids) == []
    assert _cli("status", env=env).returncode == 3
