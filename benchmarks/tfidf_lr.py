"""Full-data benchmark of the tfidf_lr family: accuracy on the test split of the data its
default config names (the general mixture: the pooled figure, and the worst domain;
benchmarks/domains.py has every domain and leave-one-domain-out), training time, and per-text
latency of the numpy serving runtime.

    .venv/bin/python benchmarks/tfidf_lr.py [--task sentiment|sarcasm ...]

Prints a table and writes benchmarks/results/tfidf_lr.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training import service
from sentimentops.training.config import (
    TfidfLrConfig,
    config_hash,
    default_config_path,
    load_config,
)
from sentimentops.training.evaluation import classification_metrics, domain_report
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.training.tfidf_lr import TfidfLrModel

DATASETS = REPO_ROOT / "datasets"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "tfidf_lr.json"
LATENCY_TEXTS = 1000


def bench(task: str) -> dict[str, object]:
    config = load_config(default_config_path(task, "tfidf_lr"))
    if not isinstance(config, TfidfLrConfig):
        raise SystemExit(f"tfidf_lr_{task}.toml is not a tfidf_lr config")
    data = service.load_data(config, DATASETS)
    train = service.select_training_rows(data, config, None)
    test = data[data["split"] == "test"]
    started = time.perf_counter()
    model = TfidfLrModel.fit(
        config, train["text"].tolist(), train["label"].to_numpy(), LABEL_NAMES[task]
    )
    train_seconds = time.perf_counter() - started
    texts = test["text"].tolist()
    probabilities = model.predict_proba(texts)
    metrics = classification_metrics(probabilities, test["label"].to_numpy(dtype=np.int64), 2)
    worst: dict[str, object] = {}
    if "domain" in test.columns:
        worst = domain_report(probabilities, test, 2)["worst"]
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp))
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        runtime = LinearModel.load(Path(tmp))
    sample = texts[:LATENCY_TEXTS]
    max_diff = float(np.abs(runtime.predict_proba(sample) - model.predict_proba(sample)).max())
    timings = []
    for text in sample:
        t0 = time.perf_counter()
        runtime.predict_proba([text])
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return {
        "task": task,
        "config_hash": config_hash(config),
        "n_train": len(train),
        "n_test": len(test),
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "test_roc_auc": metrics["roc_auc"],
        "test_ece": metrics["ece"],
        "worst_domain": worst,
        "train_seconds": train_seconds,
        "artifact_bytes": size,
        "runtime_max_abs_diff_vs_sklearn": max_diff,
        "latency_ms_p50": statistics.median(timings),
        "latency_ms_p95": timings[int(0.95 * len(timings)) - 1],
        "mean_words_per_text": float(np.mean([len(t.split()) for t in sample])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", action="append", choices=["sentiment", "sarcasm"])
    args = parser.parse_args()
    results = [bench(task) for task in args.task or ["sentiment", "sarcasm"]]
    table = Table(title="tfidf_lr, full data")
    for column in (
        "task",
        "pooled test acc",
        "macro-F1",
        "worst domain (acc)",
        "train s",
        "p50 ms/text",
        "p95 ms/text",
    ):
        table.add_column(column)
    for r in results:
        worst = r["worst_domain"]
        low = worst.get("accuracy") if isinstance(worst, dict) else None
        table.add_row(
            str(r["task"]),
            f"{r['test_accuracy']:.2%}",
            f"{r['test_macro_f1']:.4f}",
            "—" if low is None else f"{low['domain']} {low['value']:.2%}",
            f"{r['train_seconds']:.1f}",
            f"{r['latency_ms_p50']:.3f}",
            f"{r['latency_ms_p95']:.3f}",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = describe()
    RESULTS.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
