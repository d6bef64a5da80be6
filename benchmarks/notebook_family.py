"""The notebook family's three architectures at the notebook's 32-token truncation and at full
length, on seeded subsets sized for a couple of CPU cores: the upgrade's effect, measured.

    .venv/bin/python benchmarks/notebook_family.py [--task sentiment --task sarcasm]
        [--sentiment-train 3000] [--sarcasm-train 8000] [--test-samples 2000] [--results FILE]

With --full it trains and tests on the whole splits (a GPU machine: minutes; it runs without
the platform's services, see benchmarks/README.md).

Uses the configs training/configs/notebook_<task>.toml (full length) and
notebook_<task>_32.toml, switching only `architecture`. Scores with the PyTorch model (the
ONNX export reproduces it; tests/training/test_families.py checks that). Prints a table and
writes benchmarks/results/notebook_family.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from machine import describe
from rich.console import Console
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT
from sentimentops.training.config import CONFIGS_DIR, NotebookConfig, config_hash, load_config
from sentimentops.training.evaluation import classification_metrics
from sentimentops.training.families import FitContext, FitData, get_family
from sentimentops.training.reference_data import LABEL_NAMES, load_task

DATASETS = REPO_ROOT / "datasets"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "notebook_family.json"
ARCHITECTURES = ("dense", "cnn", "bilstm")
SEED = 13  # the subset sample; the models use their configs' seeds


def _subset(frame: pd.DataFrame, n: int | None) -> pd.DataFrame:
    return frame if n is None or n >= len(frame) else frame.sample(n=n, random_state=SEED)


def bench(task: str, train_n: int | None, test_n: int | None) -> list[dict[str, object]]:
    data = load_task(task, DATASETS)
    train = _subset(data[data["split"] == "train"], train_n)
    test = _subset(data[data["split"] == "test"], test_n)
    fit_data = FitData(
        train_texts=train["text"].tolist(),
        train_targets=train["label"].to_numpy(dtype=np.int64),
        validation_texts=[],
        validation_targets=np.zeros(0, dtype=np.int64),
        labels=tuple(LABEL_NAMES[task]),
    )
    rows: list[dict[str, object]] = []
    for suffix, length in (("_32", "32 (notebook)"), ("", "full")):
        base = load_config(CONFIGS_DIR / f"notebook_{task}{suffix}.toml")
        if not isinstance(base, NotebookConfig):
            raise SystemExit(f"notebook_{task}{suffix}.toml is not a notebook config")
        for architecture in ARCHITECTURES:
            config = base.model_copy(update={"architecture": architecture})
            started = time.perf_counter()
            model = get_family("notebook").fit(config, fit_data, FitContext())
            seconds = time.perf_counter() - started
            metrics = classification_metrics(
                model.predict_proba(test["text"].tolist()),
                test["label"].to_numpy(dtype=np.int64),
                2,
            )
            row = {
                "task": task,
                "architecture": architecture,
                "length": length,
                "max_length": config.encoding.max_length,
                "config_hash": config_hash(config),
                "n_train": len(train),
                "n_test": len(test),
                "epochs": config.optim.epochs,
                "test_accuracy": metrics["accuracy"],
                "test_macro_f1": metrics["macro_f1"],
                "test_roc_auc": metrics["roc_auc"],
                "train_seconds": seconds,
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def _command(args: argparse.Namespace) -> str:
    words = ["benchmarks/notebook_family.py"]
    for task in args.task or []:
        words += ["--task", task]
    if args.full:
        words.append("--full")
    else:
        words += [
            "--sentiment-train",
            str(args.sentiment_train),
            "--sarcasm-train",
            str(args.sarcasm_train),
            "--test-samples",
            str(args.test_samples),
        ]
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=["sentiment", "sarcasm"])
    parser.add_argument("--sentiment-train", type=int, default=3000)
    parser.add_argument("--sarcasm-train", type=int, default=8000)
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--full", action="store_true", help="the whole train and test splits")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.full:
        args.sentiment_train = args.sarcasm_train = args.test_samples = None
    started = time.perf_counter()
    rows: list[dict[str, object]] = []
    for task in args.task or ["sarcasm", "sentiment"]:
        train_n = args.sentiment_train if task == "sentiment" else args.sarcasm_train
        rows += bench(task, train_n, args.test_samples)
    subsets = "whole splits" if args.full else "seeded subsets"
    table = Table(title=f"notebook family: 32 tokens vs full length ({subsets})")
    for column in (
        "task",
        "architecture",
        "length",
        "train",
        "test",
        "accuracy",
        "macro-F1",
        "ROC-AUC",
        "train s",
    ):
        table.add_column(
            column, justify="left" if column in ("task", "architecture", "length") else "right"
        )
    for r in rows:
        table.add_row(
            str(r["task"]),
            str(r["architecture"]),
            f"{r['length']} ({r['max_length']})",
            f"{r['n_train']:,}",
            f"{r['n_test']:,}",
            f"{r['test_accuracy']:.2%}",
            f"{r['test_macro_f1']:.4f}",
            f"{r['test_roc_auc']:.4f}",
            f"{r['train_seconds']:.0f}",
        )
    Console().print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "machine": describe(
                    torch_threads=torch.get_num_threads(),
                    cuda=torch.cuda.is_available(),
                    gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                ),
                "command": _command(args),
                "subset_seed": SEED,
                "total_seconds": time.perf_counter() - started,
                "results": rows,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
