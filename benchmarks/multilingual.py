"""The multilingual tfidf_lr sentiment model (the one non-English text is routed to): fit from
training/configs/tfidf_lr_sentiment_multilingual.toml on the train split of the multilingual
data (training/multilingual.py), saved as a serving artifact, loaded back through the numpy
serving runtime and evaluated per language on the test split.

    .venv/bin/python benchmarks/multilingual.py [--out DIR] [--results FILE]

`--out` is where the serving artifact goes (default: a temporary directory, discarded).
About a minute on 2 cores. Prints a table and writes --results (default
benchmarks/results/multilingual.json).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT
from sentimentops.inference.runtime.base import FloatArray
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training.config import CONFIGS_DIR, TfidfLrConfig, config_hash, load_config
from sentimentops.training.domains import balanced_training_rows
from sentimentops.training.evaluation import classification_metrics
from sentimentops.training.multilingual import load_multilingual
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.training.tfidf_lr import TfidfLrModel

DATASETS = REPO_ROOT / "datasets"
CONFIG = CONFIGS_DIR / "tfidf_lr_sentiment_multilingual.toml"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "multilingual.json"
console = Console()


def _config() -> TfidfLrConfig:
    config = load_config(CONFIG)
    if not isinstance(config, TfidfLrConfig) or config.data.mixture != "multilingual":
        raise SystemExit(f"{CONFIG.name} is not a tfidf_lr config on the multilingual mixture")
    return config


def _fit(config: TfidfLrConfig, data: pd.DataFrame) -> tuple[TfidfLrModel, pd.DataFrame, float]:
    # The rows training/service.py would pick for this config (its domain-balanced selection).
    train = balanced_training_rows(
        data,
        splits=config.fit_splits,
        max_per_domain=config.data.max_train_per_domain,
        seed=config.seed,
    )
    console.print(f"[dim]fitting tfidf_lr on {len(train):,} multilingual texts…[/]")
    started = time.perf_counter()
    model = TfidfLrModel.fit(
        config,
        train["text"].tolist(),
        train["label"].to_numpy(dtype=np.int64),
        LABEL_NAMES["sentiment"],
    )
    seconds = time.perf_counter() - started
    console.print(f"[dim]  {seconds:.0f}s[/]")
    return model, train, seconds


def _per_language(probabilities: FloatArray, rows: pd.DataFrame) -> dict[str, Any]:
    """Metrics per language, then over all rows pooled and the unweighted mean of languages."""
    targets = rows["label"].to_numpy(dtype=np.int64)
    languages: dict[str, Any] = {}
    for language, index in sorted(rows.groupby("language").indices.items()):
        metrics = classification_metrics(probabilities[index], targets[index], 2)
        metrics.pop("confusion_matrix")
        languages[str(language)] = metrics
    pooled = classification_metrics(probabilities, targets, 2)
    pooled.pop("confusion_matrix")
    return {
        "languages": languages,
        "pooled": pooled,
        "mean_accuracy": float(np.mean([m["accuracy"] for m in languages.values()])),
        "mean_macro_f1": float(np.mean([m["macro_f1"] for m in languages.values()])),
    }


def _table(title: str, report: dict[str, Any]) -> Table:
    table = Table(title=title)
    for column in ("language", "n", "accuracy", "macro-F1"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for name, m in report["languages"].items():
        table.add_row(name, f"{m['n']:,}", f"{m['accuracy']:.4f}", f"{m['macro_f1']:.4f}")
    pooled = report["pooled"]
    table.add_row(
        "all (pooled)",
        f"{pooled['n']:,}",
        f"{pooled['accuracy']:.4f}",
        f"{pooled['macro_f1']:.4f}",
        style="bold",
    )
    table.add_row(
        "mean of languages",
        "",
        f"{report['mean_accuracy']:.4f}",
        f"{report['mean_macro_f1']:.4f}",
        style="bold",
    )
    return table


def bench(out_dir: Path) -> dict[str, Any]:
    config = _config()
    data = load_multilingual(config.task, DATASETS)
    model, train, train_seconds = _fit(config, data)
    model.save(out_dir)
    runtime = LinearModel.load(out_dir)
    result: dict[str, Any] = {
        "config": str(CONFIG.relative_to(REPO_ROOT)),
        "config_hash": config_hash(config),
        "n_train": len(train),
        "n_train_per_domain": {str(k): int(v) for k, v in train["domain"].value_counts().items()},
        "n_features": [len(f.vocabulary) for f in runtime.featurizers],
        "train_seconds": train_seconds,
        "artifact_bytes": sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file()),
    }
    for split in ("validation", "test"):
        rows = data[data["split"] == split]
        texts = rows["text"].tolist()
        # Scored by the serving runtime, as the routed requests will be.
        probabilities = runtime.predict_proba(texts)
        result[split] = _per_language(probabilities, rows)
        if split == "test":
            result["runtime_max_abs_diff_vs_sklearn"] = float(
                np.abs(probabilities - model.predict_proba(texts)).max()
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="serving artifact directory")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    out: dict[str, Any] = {
        "machine": describe(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if args.out is None:
        with tempfile.TemporaryDirectory() as tmp:
            out.update(bench(Path(tmp)))
    else:
        out.update(bench(args.out))
        out["artifact_dir"] = str(args.out)
    console.print(_table("validation, per language (serving runtime)", out["validation"]))
    console.print(_table("test, per language (serving runtime)", out["test"]))
    console.print(
        f"{out['n_train']:,} training texts, {out['train_seconds']:.0f}s fit; runtime vs sklearn "
        f"max |Δp| {out['runtime_max_abs_diff_vs_sklearn']:.2e}"
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    console.print(f"saved {args.results}")


if __name__ == "__main__":
    main()
