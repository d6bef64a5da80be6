"""`sentimentops train`: train a model family on a task's reference data and register it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentimentops.app.cli.common import console, fail, load_settings
from sentimentops.core.errors import DomainError


def train(
    task: Annotated[str, typer.Option(help="sentiment or sarcasm")],
    family: Annotated[str, typer.Option(help="model family")] = "tfidf_lr",
    config: Annotated[
        Path | None,
        typer.Option(help="config file (default: training/configs/<family>_<task>.toml)"),
    ] = None,
    max_train_samples: Annotated[
        int | None, typer.Option(help="train on a seeded sample of at most N texts")
    ] = None,
    max_eval_samples: Annotated[
        int | None,
        typer.Option(help="evaluate on seeded samples of at most N test and validation texts"),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(help="continue an interrupted training from its last checkpoint"),
    ] = False,
) -> None:
    """Train, evaluate, record in MLflow and register the model with the alias `candidate`."""
    # Imported here: sklearn, pandas and mlflow are slow to import and the rest of the CLI
    # must stay fast.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from sentimentops.training import service

    settings = load_settings()
    try:
        service.resolve_config(task, family, config)  # fail before the progress display
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            bar = progress.add_task("starting", total=None)

            def on_step(message: str) -> None:
                progress.update(bar, description=message, total=None, completed=0)
                console.print(f"[dim]·[/] {message}")

            def on_progress(description: str, completed: int, total: int | None) -> None:
                progress.update(bar, description=description, completed=completed, total=total)

            result = service.train(
                settings=settings,
                task=task,
                family=family,
                config_path=config,
                max_train_samples=max_train_samples,
                on_step=on_step,
                on_progress=on_progress,
                resume=resume,
                max_eval_samples=max_eval_samples,
            )
    except DomainError as exc:
        fail(str(exc))
    table = Table(title=f"{result.model_name} v{result.version} (alias candidate)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    shown = (
        "test_accuracy",
        "test_macro_f1",
        "test_roc_auc",
        "test_ece",
        "train_seconds",
        "export_agreement_fp32",
        "export_agreement_int8",
        "export_served_int8",
    )
    for key in shown:
        if key in result.metrics:
            table.add_row(key, f"{result.metrics[key]:.4f}")
    console.print(table)
    console.print(f"MLflow run {result.run_id}")
