"""Multilingual (XLM-T), code-mixed (SentiMix) and golden-set reports for the serving models.

    .venv/bin/python benchmarks/reports.py [--source registry|train|pack] [--write-golden]
        [--golden-only] [--results FILE]

`--source registry` (the default when the MLflow registry under settings has them) evaluates the
`production` version of each task, else its `candidate` (what `sentimentops train` registered);
`--source train` fits the tfidf_lr family from its default config on the full reference data
(about a minute and a half for IMDB on 2 cores) and evaluates it through the numpy serving
runtime; `--source pack` evaluates the committed model pack (settings.model_pack_dir), which a
fresh install serves, through the ONNX runtime (tasks the pack lacks fall back to training).
`--write-golden` rewrites datasets/golden/<task>.json with the evaluated models'
predictions (do that when the production model changes, and commit the files).

Prints tables and writes --results (default benchmarks/results/reports.json).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.core.vocabulary import TASKS
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.packs import content_hash, read_manifest
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training import reports
from sentimentops.training.reference_data import LABEL_NAMES, load_task

DATASETS = REPO_ROOT / "datasets"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "reports.json"
console = Console()


def _from_registry(
    settings: Settings, task: str, work: Path
) -> tuple[LinearModel, dict[str, str]] | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from sentimentops.training.service import model_registry

    if settings.mlflow_tracking_uri is None and not (settings.mlflow_dir / "mlflow.db").exists():
        return None
    client = model_registry(settings).client
    for alias in ("production", "candidate"):
        try:
            version = client.get_model_version_by_alias(task, alias)
        except MlflowException:
            continue
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=str(version.source),
            dst_path=str(work / task),
            tracking_uri=settings.resolved_mlflow_tracking_uri,
        )
        family = (version.tags or {}).get("sentimentops.family", "unknown")
        if family != "tfidf_lr":
            continue
        info = {"name": task, "version": str(version.version), "alias": alias, "family": family}
        return LinearModel.load(Path(local)), info
    return None


def _from_pack(settings: Settings, task: str) -> tuple[reports.ProbaScorer, dict[str, str]] | None:
    pack = settings.model_pack_dir
    if not (pack / "pack.json").is_file():
        return None
    for entry in read_manifest(pack).models:
        if entry.task == task:
            directory = pack / entry.path
            info = {
                "name": task,
                "version": f"pack:{content_hash(directory)[:12]}",
                "alias": "pack",
                "family": entry.family,
            }
            return load_scorer(directory, threads=os.cpu_count()), info
    return None


def _trained(task: str, work: Path) -> tuple[LinearModel, dict[str, str]]:
    from sentimentops.training.config import (
        TfidfLrConfig,
        config_hash,
        default_config_path,
        load_config,
    )
    from sentimentops.training.tfidf_lr import TfidfLrModel

    config = load_config(default_config_path(task, "tfidf_lr"))
    if not isinstance(config, TfidfLrConfig):
        raise SystemExit(f"tfidf_lr_{task}.toml is not a tfidf_lr config")
    data = load_task(task, DATASETS)
    train = data[data["split"].isin(config.fit_splits)]
    started = time.perf_counter()
    console.print(f"[dim]fitting tfidf_lr on {len(train):,} {task} texts…[/]")
    model = TfidfLrModel.fit(
        config, train["text"].tolist(), train["label"].to_numpy(dtype=np.int64), LABEL_NAMES[task]
    )
    console.print(f"[dim]  {time.perf_counter() - started:.0f}s[/]")
    model.save(work / task)
    info = {
        "name": task,
        "version": f"config:{config_hash(config)[:12]}",
        "alias": "none",
        "family": "tfidf_lr",
    }
    return LinearModel.load(work / task), info


def _table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title)
    for column in ("slice", "n", "neutral excluded", "accuracy", "macro-F1"):
        table.add_column(column, justify="left" if column == "slice" else "right")
    for name, m in rows:
        table.add_row(
            name,
            f"{m['n']:,}",
            f"{m['n_neutral_excluded']:,}",
            f"{m['accuracy']:.4f}",
            f"{m['macro_f1']:.4f}",
        )
    return table


def _language_reports(out: dict[str, Any], sentiment: reports.ProbaScorer, family: str) -> None:
    """XLM-T per language and SentiMix, into `out` (minutes with a 512-token model on 2 cores)."""
    started = time.perf_counter()
    multilingual = reports.multilingual_report(sentiment, DATASETS)
    code_mixed = reports.code_mixed_report(sentiment, DATASETS)
    out["seconds_reports"] = time.perf_counter() - started
    out["multilingual"] = multilingual
    out["code_mixed"] = code_mixed
    console.print(
        _table(
            f"XLM-T test, 2-class subset ({family} sentiment)",
            list(multilingual["languages"].items()),
        )
    )
    console.print(
        f"mean over languages: accuracy {multilingual['mean_accuracy']:.4f}, "
        f"macro-F1 {multilingual['mean_macro_f1']:.4f}"
    )
    rows = [
        (f"{pair} {part}", m)
        for pair, parts in code_mixed["pairs"].items()
        for part, m in parts.items()
    ]
    console.print(_table(f"SentiMix, 2-class subset ({family} sentiment)", rows))
    for metrics in out["multilingual"]["languages"].values():
        metrics.pop("confusion_matrix", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["registry", "train", "pack"], default=None)
    parser.add_argument("--write-golden", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--golden-only", action="store_true", help="skip the XLM-T and SentiMix reports"
    )
    args = parser.parse_args()
    settings = Settings()
    out: dict[str, Any] = {
        "machine": describe(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models: dict[str, tuple[reports.ProbaScorer, dict[str, str]]] = {}
        for task in TASKS:
            found: tuple[reports.ProbaScorer, dict[str, str]] | None = None
            if args.source == "pack":
                found = _from_pack(settings, task)
            elif args.source != "train":
                found = _from_registry(settings, task, work)
            if found is None and args.source == "registry":
                raise SystemExit(
                    f"no tfidf_lr {task} model in the registry; run `sentimentops train`"
                )
            models[task] = found or _trained(task, work)
        out["models"] = {task: info for task, (_m, info) in models.items()}
        sentiment, sentiment_info = models["sentiment"]
        if not args.golden_only:
            _language_reports(out, sentiment, sentiment_info["family"])

        out["golden"] = {}
        for golden_task, (model, info) in models.items():
            path = reports.golden_path(DATASETS, golden_task)
            if args.write_golden:
                reports.save_golden(
                    reports.build_golden(golden_task, model, DATASETS, model=info), path
                )
                console.print(f"wrote {path.relative_to(REPO_ROOT)}")
            if path.exists():
                comparison = reports.compare_golden(reports.load_golden(path), model)
                out["golden"][golden_task] = comparison.model_dump(mode="json")
                console.print(
                    f"golden {golden_task}: {comparison.n} texts, "
                    f"agreement {comparison.agreement:.3f}, "
                    f"{len(comparison.changed)} changed ({comparison.fixed} fixed, "
                    f"{comparison.broken} broken), accuracy reference "
                    f"{comparison.reference_accuracy:.3f} → candidate "
                    f"{comparison.candidate_accuracy:.3f}"
                )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    console.print(f"saved {args.results}")


if __name__ == "__main__":
    main()
