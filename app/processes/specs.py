"""The platform's processes on one machine, derived from settings. Embedded services are only
started when no scale-out address is configured for them."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentimentops.app.processes.probes import Probe, all_of, http_ok, tcp_open

if TYPE_CHECKING:  # the settings class is slow to import; `--help` does not need it
    from sentimentops.core.settings import Settings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: list[str]
    url: str
    probe: Probe
    ports: list[int]
    ready_timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)


class ToolMissing(Exception):
    def __init__(self, tool: str) -> None:
        super().__init__(
            f"`{tool}` was not found in the tools folder or on PATH; run `scripts/setup` "
            "(it builds temporal and opa into .tools/bin)"
        )


def find_tool(settings: Settings, name: str) -> Path:
    local = settings.tools_dir / name
    if local.is_file():
        return local
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(name)
    return Path(found)


def child_env(settings: Settings) -> dict[str, str]:
    """Settings a child process must share with `up`, whatever flags `up` was given."""
    env = {
        "SENTIMENTOPS_ENV": settings.env,
        "SENTIMENTOPS_DATA_DIR": str(settings.data_dir),
        "SENTIMENTOPS_DATABASE_URL": settings.resolved_database_url,
        "SENTIMENTOPS_TEMPORAL_ADDRESS": settings.resolved_temporal_address,
        "SENTIMENTOPS_TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "SENTIMENTOPS_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SENTIMENTOPS_OPA_URL": settings.resolved_opa_url,
        "SENTIMENTOPS_API_HOST": settings.api_host,
        "SENTIMENTOPS_API_PORT": str(settings.api_port),
        "SENTIMENTOPS_LOG_LEVEL": settings.log_level,
    }
    if settings.redis_url:
        env["SENTIMENTOPS_REDIS_URL"] = settings.redis_url
    # Children get Temporal's address, so they no longer see it as embedded: hand them the web
    # UI's address too (links in API answers and approval notices).
    if settings.temporal_ui_url:
        env["SENTIMENTOPS_TEMPORAL_EXTERNAL_UI_URL"] = settings.temporal_ui_url
    return env


def platform_services(settings: Settings) -> list[ServiceSpec]:
    """In start order: what the later ones need comes first."""
    specs: list[ServiceSpec] = []
    if settings.embedded_temporal:
        temporal = find_tool(settings, "temporal")
        ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
        specs.append(
            ServiceSpec(
                name="temporal",
                argv=[
                    str(temporal),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(settings.temporal_port),
                    "--ui-port",
                    str(settings.temporal_ui_port),
                    "--db-filename",
                    str(settings.data_dir / "temporal.db"),
                    "--log-level",
                    "warn",
                ],
                url=f"{settings.resolved_temporal_address} (web UI {ui})",
                probe=all_of(tcp_open("127.0.0.1", settings.temporal_port), http_ok(ui)),
                ports=[settings.temporal_port, settings.temporal_ui_port],
                ready_timeout=120.0,
            )
        )
    if settings.embedded_opa:
        opa = find_tool(settings, "opa")
        specs.append(
            ServiceSpec(
                name="opa",
                argv=[
                    str(opa),
                    "run",
                    "--server",
                    "--addr",
                    f"127.0.0.1:{settings.opa_port}",
                    "--log-level",
                    "error",
                    # Test files are policy too but never queried; skipping them keeps the
                    # server's data tree to what production evaluates.
                    "--ignore",
                    "*_test.rego",
                    str(settings.policies_dir),
                ],
                url=settings.resolved_opa_url,
                probe=http_ok(f"{settings.resolved_opa_url}/health"),
                ports=[settings.opa_port],
            )
        )
    python = sys.executable
    specs.append(
        ServiceSpec(
            name="worker",
            argv=[python, "-P", "-m", "sentimentops.app.cli", "worker"],
            url=f"task queues {settings.temporal_task_queue!r}, {settings.training_task_queue!r}",
            # The worker has no port; `up` proves it by running the policy-check workflow.
            probe=lambda: True,
            ports=[],
            env=child_env(settings),
        )
    )
    specs.append(
        ServiceSpec(
            name="api",
            argv=[python, "-P", "-m", "sentimentops.app.cli", "api"],
            url=settings.api_url,
            probe=http_ok(f"{settings.api_url}/readyz"),
            ports=[settings.api_port],
            env=child_env(settings),
        )
    )
    return specs
