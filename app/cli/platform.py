"""`sentimentops up | down | status`: run the whole platform on one machine."""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from sentimentops.app.cli.admin import first_run_bootstrap_token
from sentimentops.app.cli.common import console, err_console, fail, load_settings
from sentimentops.app.processes import supervisor
from sentimentops.app.processes.specs import ServiceSpec, ToolMissing, platform_services

if TYPE_CHECKING:  # the settings class is slow to import; `--help` does not need it
    from sentimentops.core.settings import Settings

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory \\[env: SENTIMENTOPS_DATA_DIR].")
]
STOPPED_BY_DOWN = "stopped by `sentimentops down`"


def _say(text: str) -> None:
    """A line someone may copy (a command, an id, a link): never wrapped, never styled. Rich
    would break it at the terminal's width, and a command pasted with a line break inside its
    quotes fails."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _table(settings: Settings, services: list[supervisor.RunningService]) -> Table:
    table = Table(title="SentimentOps", title_justify="left")
    for name in ("service", "state", "where"):
        table.add_column(name)
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


def _print_table(table: Table) -> None:
    """The table at its natural width, wider than a narrow terminal if need be: addresses are
    copied from it, and Rich would otherwise break them inside a cell."""
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    # Console.print never renders wider than the console: a console as wide as the table.
    wide = Console(
        width=max(console.width, natural), file=console.file, force_terminal=console.is_terminal
    )
    wide.print(table, crop=False)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (what a README shows)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _command_hint() -> str | None:
    """How to get `sentimentops` on PATH, when this shell would not find this installation's."""
    # Not resolved: a virtual environment's python is a symlink to the system's.
    bin_dir = Path(sys.executable).parent
    ours = bin_dir / "sentimentops"
    found = shutil.which("sentimentops")
    if found is not None and Path(found).resolve() == ours.resolve():
        return None
    return (
        f"the `sentimentops` command is in {_shown(bin_dir)}, which is not on your PATH: "
        f"run `source {_shown(bin_dir / 'activate')}` in each new shell "
        f"(or call {_shown(ours)})"
    )


def _ensure_models(settings: Settings, *, use_pack: bool) -> None:
    """A fresh install gets its first production models (the model pack's, else trained linear
    ones) before the API starts; each first promotion is recorded like any other."""
    # Imported here: training pulls in pandas, scikit-learn and MLflow, which the other
    # commands do not need.
    from sentimentops.tools.promotions import promote_first_production
    from sentimentops.training.bootstrap import ensure_serving_models

    console.print("checking the serving models …")
    ensure_serving_models(
        settings,
        promote=lambda task, version: promote_first_production(settings, task, version),
        use_pack=use_pack,
        on_step=lambda message: console.print(f"  {message}"),
    )


def _preflight(settings: Settings) -> list[ServiceSpec]:
    """Everything that can refuse `up` is checked before it changes anything (no migration,
    no model import, no new data directory): tools present, not already running, ports free."""
    try:
        specs = platform_services(settings)
        supervisor.check_not_running(settings)
        supervisor.check_ports(specs)
    except (ToolMissing, supervisor.SupervisorError) as exc:
        fail(str(exc))
    return specs


def _start_kb_reindex(settings: Settings) -> None:
    """Index the bundled docs (and the models, plans and documents there are) in the background,
    and every REINDEX_EVERY after; the API, which holds the knowledge base, does the work. A
    failure here is a warning: the platform serves without a knowledge base."""
    import asyncio
    import importlib.util

    if importlib.util.find_spec("qdrant_client") is None:
        return  # a scoring-only install has no knowledge base
    from sentimentops.core.errors import DomainError
    from sentimentops.core.temporal import connect
    from sentimentops.knowledge_base.workflow import ensure_reindex_schedule, start_reindex

    async def start() -> str:
        client = await connect(settings)
        await ensure_reindex_schedule(client, settings)
        return await start_reindex(client, settings)

    try:
        workflow_id = asyncio.run(start())
    except (DomainError, RuntimeError) as exc:
        err_console.print(f"warning: the knowledge base's indexing did not start: {exc}")
        return
    _say(
        f"knowledge base: indexing the docs in the background (workflow {workflow_id}); "
        "`sentimentops kb status` shows what it holds"
    )


def _stopped_by_down(settings: Settings) -> None:
    supervisor.clear_stop_request(settings)
    console.print(STOPPED_BY_DOWN)
    raise typer.Exit(0)


def up(
    data_dir: DataDirOpt = None,
    api_port: Annotated[int | None, typer.Option(help="API port \\[default: 8000].")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal gRPC port [7233].")] = None,
    temporal_ui_port: Annotated[
        int | None, typer.Option(help="Temporal web UI port [8233].")
    ] = None,
    opa_port: Annotated[int | None, typer.Option(help="OPA port [8181].")] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once ready; stop with `down`.")
    ] = False,
    model_pack: Annotated[
        bool,
        typer.Option(
            "--model-pack/--no-model-pack",
            help="Import the committed model pack, whose models a fresh install serves "
            "(default); or leave it out, and a fresh install trains TF-IDF models instead "
            "(about a minute per task). A task's production model, once set, stays.",
        ),
    ] = True,
) -> None:
    """Start Temporal, OPA, the worker and the API; wait until ready; print where each runs.

    In the foreground (default) Ctrl-C, or `sentimentops down` from another shell, stops
    everything cleanly.
    """
    # Imported here: asyncio, Alembic, Temporal and the workflows are slow to import, and every
    # command, even `--help`, imports this module (tests/app/test_cli_imports.py).
    import asyncio

    from sentimentops.app import schema
    from sentimentops.core.temporal import workflow_ui_url
    from sentimentops.workflows.client import SMOKE_CHECK_REQUEST, run_policy_check

    settings = load_settings(
        data_dir=data_dir,
        api_port=api_port,
        temporal_port=temporal_port,
        temporal_ui_port=temporal_ui_port,
        opa_port=opa_port,
    )
    specs = _preflight(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"data directory: {settings.data_dir}")
    console.print("migrating the database …")
    schema.upgrade(settings.resolved_database_url)
    _ensure_models(settings, use_pack=model_pack)
    # A request left by a `down` of a detached platform is not meant for this run.
    supervisor.clear_stop_request(settings)

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
        if supervisor.stop_was_requested(settings):
            _stopped_by_down(settings)
        fail(str(exc))
    except KeyboardInterrupt:
        supervisor.stop_all(settings)
        err_console.print("interrupted; everything that had started was stopped")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the check stops the platform
        if supervisor.stop_was_requested(settings):
            _stopped_by_down(settings)
        supervisor.stop_all(settings)
        fail(f"the end-to-end check failed, platform stopped: {exc}")

    _print_table(_table(settings, services))
    console.print(f"logs: {settings.log_dir}")
    link = workflow_ui_url(settings, workflow_id) or workflow_id
    _say(
        f"end-to-end check: workflow {workflow_id} completed, policy said "
        f"{result.decision.outcome} (audit row {result.audit_seq})\n  {link}"
    )
    _start_kb_reindex(settings)
    token = first_run_bootstrap_token(settings)
    if token is not None:
        console.print(
            "first run: no platform admin exists yet. Create one with this one-time bootstrap "
            f"token (valid {settings.bootstrap_token_ttl_seconds // 60} minutes):"
        )
        _say(
            f"  curl -X POST {settings.api_url}/api/v1/auth/bootstrap "
            f"-H 'content-type: application/json' -d '{{\"bootstrap_token\": \"{token}\"}}'"
        )
        console.print("  (see docs/identity.md; `sentimentops admin bootstrap` prints a new token)")
    hint = _command_hint()
    if hint is not None:
        _say(hint)
    if detach:
        console.print("running in the background; `sentimentops down` stops it")
        return
    console.print("press Ctrl-C (or run `sentimentops down`) to stop")
    try:
        dead = supervisor.watch(settings, services)
    except KeyboardInterrupt:
        dead = None
    if dead is not None:
        supervisor.stop_all(settings)
        fail(f"{dead.name} exited unexpectedly; see {dead.log}. Platform stopped.")
    if supervisor.stop_was_requested(settings) and not stop_requested:
        # `down` stops the services itself (one stopper, in order); this process waits for it.
        if not supervisor.wait_exited(services):
            supervisor.stop_all(settings, services)
        _stopped_by_down(settings)
    console.print("stopping …")
    stopped = supervisor.stop_all(settings)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def down(data_dir: DataDirOpt = None) -> None:
    """Stop exactly the processes that `up` started from this data directory (a foreground
    `up` then exits cleanly)."""
    settings = load_settings(data_dir=data_dir)
    if any(supervisor.is_alive(s) for s in supervisor.read_state(settings)):
        supervisor.request_stop(settings)
    stopped = supervisor.stop_all(settings)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status(data_dir: DataDirOpt = None) -> None:
    """Show the platform's processes and whether each still runs."""
    settings = load_settings(data_dir=data_dir)
    services = supervisor.read_state(settings)
    if not services:
        console.print("not running (start it with `sentimentops up`)")
        raise typer.Exit(3)
    _print_table(_table(settings, services))
    console.print(f"logs: {settings.log_dir}")
    if supervisor.first_dead(services) is not None:
        raise typer.Exit(1)
