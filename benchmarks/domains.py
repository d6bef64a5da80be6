"""Per-domain quality of each task's general model, and leave-one-domain-out generalisation.

    .venv/bin/python benchmarks/domains.py [--task sentiment|sarcasm ...] [--family tfidf_lr]
        [--lodo/--no-lodo] [--results FILE]

For each task:
- the general model: the family's default config (training/configs/<family>_<task>.toml, the
  `general` mixture) fitted on the domain-balanced training rows of every trainable domain
  (training/domains.py), scored on the test split of every domain;
- leave-one-domain-out (LODO, `--lodo`, the default): for each trainable domain D, the same
  config fitted on every trainable domain except D and scored on D's test split. This is the
  figure to expect on a source no model has seen (a new customer's texts); the general
  model's in-domain figure is not.
Eval-only domains (ptacek_tweets) are never trained on, so they are out of domain for every
model: both tables show the general model's score for them.

Prints one table per task and writes --results (default benchmarks/results/domains_<family>.json;
tasks not rerun keep their previous entry). tfidf_lr only: a MiniLM LODO fit takes about an hour
on 2 CPU cores each (see MINILM_REFUSAL).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.core.vocabulary import TASKS
from sentimentops.training.config import (
    TfidfLrConfig,
    config_hash,
    default_config_path,
    load_config,
)
from sentimentops.training.domains import balanced_training_rows, load_general, trainable
from sentimentops.training.evaluation import FloatArray, classification_metrics, domain_report
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.training.tfidf_lr import TfidfLrModel

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
FAMILIES = ("tfidf_lr", "minilm")
MINILM_REFUSAL = (
    "minilm is not benchmarked here: each leave-one-domain-out fit of MiniLM takes about an hour "
    "on 2 CPU cores (one per trainable domain, eight per task). Fit it on a GPU machine through "
    'the fit-bundle path instead (docs/training.md, "Fitting on a separate GPU machine": '
    "benchmarks/minilm_gpu.py --fit-bundle, training/remote_fit.py, --adopt)."
)
# Metrics shown per model in the tables; the JSON holds ECE and the confusion matrices too.
SHOWN = ("accuracy", "macro_f1", "roc_auc")  # columns "acc", "F1" (macro), "AUC" (ROC)
console = Console()


@dataclass(frozen=True)
class Fitted:
    """One tfidf_lr fit and the rows it saw."""

    model: TfidfLrModel
    train_domains: dict[str, int]  # domain → training rows
    fit_seconds: float


def task_config(task: str, family: str) -> TfidfLrConfig:
    """The default config of `family` for `task`; it must train the general mixture, since the
    benchmark measures the general model."""
    path = default_config_path(task, family)
    config = load_config(path)
    if not isinstance(config, TfidfLrConfig):
        raise SystemExit(f"{path.name} is not a tfidf_lr config")
    if config.data.mixture != "general":
        raise SystemExit(
            f"{path.name} trains the {config.data.mixture!r} mixture; this benchmark measures "
            'the general one (set [data] mixture = "general")'
        )
    return config


def fit(
    config: TfidfLrConfig,
    frame: pd.DataFrame,
    *,
    max_per_domain: int | None,
    exclude: tuple[str, ...] = (),
) -> Fitted:
    """Fit `config` on the balanced training rows of `frame`, less the `exclude`d domains."""
    rows = balanced_training_rows(
        frame,
        splits=config.fit_splits,
        max_per_domain=max_per_domain,
        seed=config.seed,
        exclude=exclude,
    )
    started = time.perf_counter()
    # tfidf_lr reads no context (the previous turn): texts only.
    model = TfidfLrModel.fit(
        config,
        rows["text"].astype(str).tolist(),
        rows["label"].to_numpy(dtype=np.int64),
        LABEL_NAMES[config.task],
    )
    seconds = time.perf_counter() - started
    counts = rows["domain"].value_counts().sort_index()
    return Fitted(model, {str(k): int(v) for k, v in counts.items()}, seconds)


def evaluation_rows(frame: pd.DataFrame, *, max_per_domain: int | None, seed: int) -> pd.DataFrame:
    """Every domain's test split; at most `max_per_domain` rows of each (a seeded sample: smoke
    runs), else all of it."""
    test = frame[frame["split"] == "test"]
    if max_per_domain is None:
        return test.reset_index(drop=True)
    parts = [
        rows.sample(n=min(max_per_domain, len(rows)), random_state=seed)
        for _name, rows in test.groupby("domain", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)


def _probabilities(model: TfidfLrModel, test: pd.DataFrame) -> FloatArray:
    return model.predict_proba(test["text"].astype(str).tolist())


def general_report(
    config: TfidfLrConfig,
    frame: pd.DataFrame,
    *,
    max_per_domain: int | None,
    max_test_per_domain: int | None = None,
) -> dict[str, Any]:
    """The general model scored on every domain's test split (evaluation.domain_report)."""
    fitted = fit(config, frame, max_per_domain=max_per_domain)
    test = evaluation_rows(frame, max_per_domain=max_test_per_domain, seed=config.seed)
    report = domain_report(
        _probabilities(fitted.model, test),
        test,
        len(LABEL_NAMES[config.task]),
        trained_domains=list(fitted.train_domains),
    )
    return {
        "n_train": sum(fitted.train_domains.values()),
        "train_domains": fitted.train_domains,
        "fit_seconds": fitted.fit_seconds,
        "domains": report["domains"],
        "worst": report["worst"],
    }


def leave_one_domain_out(
    config: TfidfLrConfig,
    frame: pd.DataFrame,
    *,
    max_per_domain: int | None,
    max_test_per_domain: int | None = None,
    on_fit: Callable[[str, Fitted], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """For each trainable domain D of `frame`: `config` fitted on every other trainable domain,
    scored on D's test split (accuracy, macro-F1, ROC-AUC, ECE, confusion matrix)."""
    test = evaluation_rows(frame, max_per_domain=max_test_per_domain, seed=config.seed)
    present = set(frame["domain"].unique())
    results: dict[str, dict[str, Any]] = {}
    for name in trainable(config.task):
        if name not in present:
            continue
        fitted = fit(config, frame, max_per_domain=max_per_domain, exclude=(name,))
        if on_fit is not None:
            on_fit(name, fitted)
        held_out = test[test["domain"] == name]
        metrics = classification_metrics(
            _probabilities(fitted.model, held_out),
            held_out["label"].to_numpy(dtype=np.int64),
            len(LABEL_NAMES[config.task]),
        )
        results[name] = {
            **metrics,
            "n_train": sum(fitted.train_domains.values()),
            "fit_seconds": fitted.fit_seconds,
        }
    return results


def worst(per_domain: dict[str, dict[str, Any]], metric: str) -> tuple[str, float] | None:
    """The domain with the lowest `metric` (None when no domain has it)."""
    values = {n: m[metric] for n, m in per_domain.items() if m.get(metric) is not None}
    if not values:
        return None
    name = min(values, key=lambda n: values[n])
    return name, float(values[name])


def bench_task(task: str, family: str, *, lodo: bool, datasets_dir: Path) -> dict[str, Any]:
    config = task_config(task, family)
    cap = config.data.max_train_per_domain
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    console.print(f"[bold]{task}[/]: loading every domain…")
    frame = load_general(task, datasets_dir)
    console.print(f"[dim]  fitting the general model (at most {cap} rows per domain)…[/]")
    general = general_report(config, frame, max_per_domain=cap)
    console.print(f"[dim]  general: {general['n_train']:,} rows, {general['fit_seconds']:.1f}s[/]")
    eval_only = sorted(set(frame["domain"]) - set(trainable(task)))
    out: dict[str, Any] = {
        "config": str(default_config_path(task, family).relative_to(REPO_ROOT)),
        "config_hash": config_hash(config),
        "data": config.data.model_dump(mode="json"),
        "fit_splits": list(config.fit_splits),
        "eval_only_domains": eval_only,
        "started_at": started_at,
        "general": general,
    }
    if lodo:

        def report(name: str, fitted: Fitted) -> None:
            console.print(
                f"[dim]  without {name}: {sum(fitted.train_domains.values()):,} rows, "
                f"{fitted.fit_seconds:.1f}s[/]"
            )

        held_out = leave_one_domain_out(config, frame, max_per_domain=cap, on_fit=report)
        for name in eval_only:
            # Never trained on: the general model's score already is an out-of-domain one.
            held_out[name] = {**general["domains"][name], "eval_only": True}
        out["lodo"] = {
            "domains": held_out,
            "worst": {
                metric: {"domain": found[0], "value": found[1]}
                for metric in SHOWN
                if (found := worst(held_out, metric)) is not None
            },
        }
    out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out


def _cells(metrics: dict[str, Any] | None) -> list[str]:
    if metrics is None:
        return ["–"] * len(SHOWN)
    return ["–" if metrics.get(m) is None else f"{metrics[m]:.4f}" for m in SHOWN]


def print_task(task: str, result: dict[str, Any]) -> None:
    """One table (domain | n test | general | LODO) and a footer naming the worst domains."""
    general: dict[str, Any] = result["general"]["domains"]
    lodo: dict[str, Any] | None = result.get("lodo", {}).get("domains")
    table = Table(title=f"{task}: general model per domain, and leave-one-domain-out")
    table.add_column("domain", no_wrap=True)
    table.add_column("n test", justify="right")
    for prefix in ("general", "LODO"):
        for name in ("acc", "F1", "AUC"):
            table.add_column(f"{prefix} {name}", justify="right")
    for name in sorted(general):
        label = f"{name} (eval-only)" if name in result["eval_only_domains"] else name
        held_out = None if lodo is None else lodo.get(name)
        table.add_row(label, f"{general[name]['n']:,}", *_cells(general[name]), *_cells(held_out))
    console.print(table)
    parts = []
    if (found := worst(general, "accuracy")) is not None:
        parts.append(f"general {found[0]} acc {found[1]:.4f}")
    if lodo is not None and (found := worst(lodo, "accuracy")) is not None:
        parts.append(f"LODO {found[0]} acc {found[1]:.4f}")
        trained = [n for n in lodo if n not in result["eval_only_domains"]]
        drop = np.mean([general[n]["accuracy"] - lodo[n]["accuracy"] for n in trained])
        parts.append(f"mean in-domain → LODO drop {drop * 100:.1f} pt")
    console.print(f"worst domain: {'; '.join(parts)}")


def _previous(path: Path, family: str) -> dict[str, Any]:
    """The tasks of an earlier results file of the same family (kept when not rerun)."""
    if not path.is_file():
        return {}
    try:
        earlier = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(earlier, dict) or earlier.get("family") != family:
        return {}
    tasks = earlier.get("tasks", {})
    return tasks if isinstance(tasks, dict) else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", action="append", choices=TASKS)
    parser.add_argument("--family", choices=FAMILIES, default="tfidf_lr")
    parser.add_argument("--lodo", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.family == "minilm":
        console.print(f"[bold red]{MINILM_REFUSAL}[/]")
        return 2
    results: Path = args.results or RESULTS_DIR / f"domains_{args.family}.json"
    tasks: list[str] = args.task or list(TASKS)
    out: dict[str, Any] = {
        "family": args.family,
        # Fit times are only comparable at a similar load (other jobs share the cores).
        "machine": describe(load_average_at_start=list(os.getloadavg())),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tasks": _previous(results, args.family),
    }
    datasets_dir = Settings().datasets_dir
    for task in tasks:
        out["tasks"][task] = bench_task(
            task, args.family, lodo=args.lodo, datasets_dir=datasets_dir
        )
        print_task(task, out["tasks"][task])
    out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    console.print(f"saved {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
