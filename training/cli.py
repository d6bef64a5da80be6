"""`sentimentops train`: train a model family on a task's reference data and register it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sentimentops.core.cli.common import console, fail, load_settings
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
) -> None:
    """Train, evaluate, record in MLflow and register the model with the alias `candidate`."""
    # Imported here: sklearn, pandas and mlflow are slow to import and the rest of the CLI
    # must stay fast.
    from sentimentops.training import service

    settings = load_settings()
    try:
        service.resolve_config(task, family, config)  # fail before the progress display
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:  # fmt: skip
            bar = progress.add_task("starting", total=None)

            def on_step(message: str) -> None:
                progress.update(bar, description=message)
                console.print(f"[dim]·[/] {message}")

            result = service.train(
                settings=settings,
                task=task,
                family=family,
                config_path=config,
                max_train_samples=max_train_samples,
                on_step=on_step,
            )
    except DomainError as exc:
        fail(str(exc))
    table = Table(title=f"{result.model_name} v{result.version} (alias candidate)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("test_accuracy", "test_macro_f1", "test_roc_auc", "test_ece", "train_seconds"):
        if key in result.metrics:
            table.add_row(key, f"{result.metrics[key]:.4f}")
    console.print(table)
    console.print(f"MLflow run {result.run_id}")
