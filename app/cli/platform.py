"""`sentimentops up | down | status`: run the whole platform on one machine."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from sentimentops.app import schema
from sentimentops.app.cli.admin import first_run_bootstrap_token
from sentimentops.app.cli.common import console, err_console, fail, load_settings
from sentimentops.app.processes import supervisor
from sentimentops.app.processes.specs import ToolMissing, platform_services
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url
from sentimentops.workflows.client import SMOKE_CHECK_REQUEST, run_policy_check

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [env: SENTIMENTOPS_DATA_DIR].")
]


def _table(settings: Settings, services: list[supervisor.RunningService]) -> Table:
    table = Table(title="SentimentOps", title_justify="left")
    table.add_column("service")
    table.add_column("state")
    table.add_column("where")
    table.add_column("pid", justify="right")
    table.add_column("log")
    for s in services:
        state = "[green]running[/]" if supervisor.is_alive(s) else "[red]stopped[/]"
        table.add_row(s.name, state, s.url, str(s.pid), Path(s.log).name)
    if not settings.embedded_temporal:
        table.add_row("temporal", "external", settings.resolved_temporal_address, "-", "-")
    if not settings.embedded_opa:
        table.add_row("opa", "external", settings.resolved_opa_url, "-", "-")
    return table


def _ensure_models(settings: Settings) -> None:
    """A fresh install trains and deploys its first (linear) models before the API starts."""
    # Imported here: training pulls in pandas, scikit-learn and MLflow, which the other
    # commands do not need.
    from sentimentops.training.bootstrap import ensure_serving_models

    console.print("checking the serving models …")
    ensure_serving_models(settings, on_step=lambda message: console.print(f"  {message}"))


def up(
    data_dir: DataDirOpt = None,
    api_port: Annotated[int | None, typer.Option(help="API port [default: 8000].")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal gRPC port [7233].")] = None,
    temporal_ui_port: Annotated[
        int | None, typer.Option(help="Temporal web UI port [8233].")
    ] = None,
    opa_port: Annotated[int | None, typer.Option(help="OPA port [8181].")] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once ready; stop with `down`.")
    ] = False,
) -> None:
    """Start Temporal, OPA, the worker and the API; wait until ready; print where each runs.

    In the foreground (default) Ctrl-C stops everything cleanly.
    """
    settings = load_settings(
        data_dir=data_dir,
        api_port=api_port,
        temporal_port=temporal_port,
        temporal_ui_port=temporal_ui_port,
        opa_port=opa_port,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        specs = platform_services(settings)
    except ToolMissing as exc:
        fail(str(exc))
    console.print(f"data directory: {settings.data_dir}")
    console.print("migrating the database …")
    schema.upgrade(settings.resolved_database_url)
    _ensure_models(settings)

    stop_requested = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        services = supervisor.start_all(
            settings, specs, on_start=lambda spec: console.print(f"starting {spec.name} …")
        )
        workflow_id, result = asyncio.run(run_policy_check(settings, SMOKE_CHECK_REQUEST))
    except supervisor.SupervisorError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        supervisor.stop_all(settings)
        err_console.print("interrupted; everything that had started was stopped")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the check stops the platform
        supervisor.stop_all(settings)
        fail(f"the end-to-end check failed, platform stopped: {exc}")

    console.print(_table(settings, services))
    console.print(f"logs: {settings.log_dir}")
    link = workflow_ui_url(settings, workflow_id) or workflow_id
    console.print(
        f"end-to-end check: workflow {workflow_id} completed, policy said "
        f"[bold]{result.decision.outcome}[/] (audit row {result.audit_seq})\n  {link}"
    )
    token = first_run_bootstrap_token(settings)
    if token is not None:
        console.print(
            "first run: no platform admin exists yet. Create one with this one-time bootstrap "
            f"token (valid {settings.bootstrap_token_ttl_seconds // 60} minutes):\n"
            f"  curl -X POST {settings.api_url}/api/v1/auth/bootstrap "
            f"-H 'content-type: application/json' -d '{{\"bootstrap_token\": \"{token}\"}}'\n"
            "  (see docs/identity.md; `sentimentops admin bootstrap` prints a new token)"
        )
    if detach:
        console.print("running in the background; `sentimentops down` stops it")
        return
    console.print("press Ctrl-C to stop")
    try:
        while not stop_requested:
            dead = supervisor.first_dead(services)
            if dead is not None:
                supervisor.stop_all(settings)
                fail(f"{dead.name} exited unexpectedly; see {dead.log}. Platform stopped.")
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    console.print("stopping …")
    stopped = supervisor.stop_all(settings)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def down(data_dir: DataDirOpt = None) -> None:
    """Stop exactly the processes that `up` started from this data directory."""
    settings = load_settings(data_dir=data_dir)
    stopped = supervisor.stop_all(settings)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status(data_dir: DataDirOpt = None) -> None:
    """Show the platform's processes and whether each still runs."""
    settings = load_settings(data_dir=data_dir)
    services = supervisor.read_state(settings)
    if not services:
        console.print("not running (start it with `sentimentops up`)")
        raise typer.Exit(3)
    console.print(_table(settings, services))
    console.print(f"logs: {settings.log_dir}")
    if supervisor.first_dead(services) is not None:
        raise typer.Exit(1)
