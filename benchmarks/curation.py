"""The Data Curation agent's bar (issue 17): on a copy of the sarcasm training data with 5 % of
the labels flipped at random (seeded), the suspected-error list of training/curation.py must
have precision >= 0.6 in its top 500 and find >= 60 % of the flips in its top 2,000.

    .venv/bin/python benchmarks/curation.py [--seed 17] [--rate 0.05] [--folds 5]

Prints a table and writes benchmarks/results/curation.json.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT
from sentimentops.training.curation import suspected_label_errors
from sentimentops.training.reference_data import load_task

DATASETS = REPO_ROOT / "datasets"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "curation.json"
PRECISION_AT, PRECISION_BAR = 500, 0.6
RECALL_AT, RECALL_BAR = 2000, 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17, help="seed of the flips")
    parser.add_argument("--rate", type=float, default=0.05, help="share of labels flipped")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    data = load_task("sarcasm", DATASETS)
    rng = np.random.default_rng(args.seed)
    labels = data["label"].to_numpy(dtype=np.int64).copy()
    flipped_idx = rng.choice(len(data), size=round(args.rate * len(data)), replace=False)
    labels[flipped_idx] = 1 - labels[flipped_idx]
    flipped = set(data["id"].to_numpy()[flipped_idx].tolist())

    started = time.perf_counter()
    suspects = suspected_label_errors(
        data["id"].tolist(), data["text"].tolist(), labels.tolist(), n_classes=2, folds=args.folds
    )
    seconds = time.perf_counter() - started
    ranked = [s.row_id for s in suspects]
    precision = sum(r in flipped for r in ranked[:PRECISION_AT]) / PRECISION_AT
    recall = sum(r in flipped for r in ranked[:RECALL_AT]) / len(flipped)
    overall_precision = sum(r in flipped for r in ranked) / max(len(ranked), 1)

    result = {
        "data": "sarcasm headlines v1 (all splits)",
        "rows": len(data),
        "flipped": len(flipped),
        "seed": args.seed,
        "folds": args.folds,
        "flagged": len(ranked),
        f"precision_at_{PRECISION_AT}": round(precision, 4),
        f"recall_at_{RECALL_AT}": round(recall, 4),
        "precision_of_all_flagged": round(overall_precision, 4),
        "seconds": round(seconds, 1),
        "bar_met": precision >= PRECISION_BAR and recall >= RECALL_BAR,
        "machine": describe("TF-IDF word+char LR, out-of-fold, cleanlab prune_by_noise_rate"),
    }
    table = Table(title="Suspected label errors on sarcasm with planted flips")
    for column in ("measure", "value", "bar"):
        table.add_column(column)
    table.add_row("rows / flipped", f"{len(data)} / {len(flipped)}", "")
    table.add_row("flagged by cleanlab", str(len(ranked)), "")
    table.add_row(f"precision @ {PRECISION_AT}", f"{precision:.3f}", f">= {PRECISION_BAR}")
    table.add_row(f"recall of flips @ {RECALL_AT}", f"{recall:.3f}", f">= {RECALL_BAR}")
    table.add_row("precision of all flagged", f"{overall_precision:.3f}", "")
    table.add_row("seconds (k-fold fit + cleanlab)", f"{seconds:.1f}", "")
    Console().print(table)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if not result["bar_met"]:
        raise SystemExit("the curation bar is not met")


if __name__ == "__main__":
    main()
