"""Entry point of the `sentimentops` command."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sentimentops import __version__
from sentimentops.app.cli import (
    admin,
    approvals,
    audit,
    chat,
    data,
    db,
    doctor,
    kb,
    labeling,
    lifecycle,
    platform,
    sentry,
    slack,
    training,
)
from sentimentops.app.cli.common import console, exit_process, load_settings


class _Cli(typer.Typer):
    """The `sentimentops` command: Typer's, ending the process through exit_process (Temporal's
    threads must not race the interpreter's shutdown). Tests' CliRunner builds the Click command
    itself and never comes here."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            exit_process(exc.code)
        except Exception:  # noqa: BLE001 - a bug: its traceback, then the same clean exit
            import traceback

            traceback.print_exc()
            exit_process(1)


app = _Cli(
    name="sentimentops",
    help="SentimentOps: sentiment and sarcasm scoring with a durable, policy-gated ML lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(platform.up)
app.command()(platform.down)
app.command()(platform.status)
app.command()(doctor.doctor)
app.add_typer(admin.app, name="admin")
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")
app.add_typer(data.app, name="data")
app.command()(training.train)
app.add_typer(lifecycle.lifecycle_app, name="lifecycle")
app.add_typer(lifecycle.plan_app, name="plan")
app.add_typer(lifecycle.workflows_app, name="workflows")
app.command()(lifecycle.rollback)
app.command()(chat.chat)
app.add_typer(approvals.app, name="approvals")
app.add_typer(sentry.app, name="sentry")
app.add_typer(kb.app, name="kb")
app.add_typer(labeling.app, name="labeling")
app.add_typer(slack.app, name="slack")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"sentimentops {__version__}")


@app.command()
def worker(
    queue: Annotated[
        str,
        typer.Option(
            help="all (platform + training), platform, training, or gpu (the queue in "
            "SENTIMENTOPS_GPU_TASK_QUEUE, for PyTorch families' training on a GPU machine)"
        ),
    ] = "all",
) -> None:
    """Run the Temporal workers (started for you by `up`)."""
    import asyncio

    from sentimentops.agents.sentry_agent import write_incident
    from sentimentops.knowledge_base.workflow import RemoteKnowledge
    from sentimentops.workflows.worker import run_worker

    if queue not in ("all", "platform", "training", "gpu"):
        raise typer.BadParameter("--queue must be all, platform, training or gpu")
    settings = load_settings()
    if queue == "gpu" and not settings.gpu_task_queue:
        raise typer.BadParameter("--queue gpu needs SENTIMENTOPS_GPU_TASK_QUEUE to be set")
    # The sentry's incidents are written by the Deployment Sentry agent, in this process.
    # `search_kb` steps ask the process that holds the knowledge base (the API) through Temporal.
    knowledge = RemoteKnowledge(settings)
    asyncio.run(
        run_worker(
            settings,
            queue,  # type: ignore[arg-type]
            incident_writer=write_incident,
            knowledge=lambda: knowledge,
        )
    )


@app.command()
def api() -> None:
    """Run the HTTP API (started for you by `up`)."""
    import uvicorn

    from sentimentops.app.api import create_app

    settings = load_settings()
    uvicorn.run(
        # This process holds the knowledge base: it serves its Temporal queue too.
        create_app(settings, serve_knowledge_queue=True),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # keep our structured logging
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
