"""One evaluation harness for every model family: it needs only a `predict_proba(texts)`
function, so it scores the sklearn pipeline, the serving runtime or a transformer alike."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

from sentimentops.training.perturb import PERTURBATIONS
from sentimentops.training.reference_data import load_sst2

FloatArray = npt.NDArray[np.float64]


# Class probabilities of texts, each with its context (the previous turn) or None.
PredictProba = Callable[[list[str], list[str | None] | None], FloatArray]


# Per-domain metrics that the promotion gates read (domain_<name>_<metric>) and whose minimum
# over domains is worst_domain_<metric>.
DOMAIN_METRICS = ("accuracy", "macro_f1", "roc_auc", "ece")

ECE_BINS = 15
# Word-count buckets: headlines fall in the first two, reviews spread over the rest.
LENGTH_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1-8", 1, 8),
    ("9-20", 9, 20),
    ("21-100", 21, 100),
    ("101-300", 101, 300),
    ("301+", 301, 10**9),
)


def expected_calibration_error(probabilities: FloatArray, targets: npt.NDArray[np.int64]) -> float:
    """ECE of the top-label confidence over equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    ece = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def classification_metrics(
    probabilities: FloatArray, targets: npt.NDArray[np.int64], n_labels: int
) -> dict[str, Any]:
    """Accuracy, macro-F1, ROC-AUC (one-vs-rest when multi-class), ECE, confusion matrix."""
    predicted = probabilities.argmax(axis=1)
    metrics: dict[str, Any] = {
        "n": len(targets),
        "accuracy": float(accuracy_score(targets, predicted)),
        "macro_f1": float(f1_score(targets, predicted, average="macro", labels=range(n_labels))),
        "ece": expected_calibration_error(probabilities, targets),
        "confusion_matrix": confusion_matrix(targets, predicted, labels=range(n_labels)).tolist(),
    }
    present = np.unique(targets)
    if len(present) == n_labels == 2:
        metrics["roc_auc"] = float(roc_auc_score(targets, probabilities[:, 1]))
    elif len(present) == n_labels:
        metrics["roc_auc"] = float(roc_auc_score(targets, probabilities, multi_class="ovr"))
    else:
        metrics["roc_auc"] = None  # undefined when a class is absent from the slice
    return metrics


def robustness(predict_proba: PredictProba, texts: Sequence[str], *, seed: int) -> dict[str, float]:
    """Per perturbation, the share of texts whose predicted label changes."""
    base = predict_proba(list(texts), None).argmax(axis=1)
    flips: dict[str, float] = {}
    for name, perturb in PERTURBATIONS.items():
        # Seeded for reproducible reports, not security.
        rng = random.Random(f"{seed}:{name}")  # noqa: S311
        changed = predict_proba([perturb(t, rng) for t in texts], None).argmax(axis=1)
        flips[name] = float((changed != base).mean())
    return flips


def plot_confusion_matrix(matrix: list[list[int]], labels: Sequence[str], path: Path) -> None:
    """A labelled confusion-matrix heat map as PNG."""
    values = np.asarray(matrix)
    figure, axes = plt.subplots(figsize=(4 + len(labels) * 0.5, 3.5 + len(labels) * 0.5))
    axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels=labels, rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    threshold = values.max() / 2 if values.size else 0
    for (row, col), value in np.ndenumerate(values):
        axes.text(
            col,
            row,
            str(value),
            ha="center",
            va="center",
            color="white" if value > threshold else "black",
        )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def contexts_of(frame: pd.DataFrame) -> list[str | None] | None:
    """The `context` column as a list (None where a row has none), or None without one."""
    if "context" not in frame.columns:
        return None
    values = [c if isinstance(c, str) and c else None for c in frame["context"]]
    return values if any(v is not None for v in values) else None


def domain_report(
    probabilities: FloatArray,
    test: pd.DataFrame,
    n_labels: int,
    trained_domains: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Metrics per domain of `test` (its `domain` column), each marked in or out of the
    model's training domains, and the worst domain per metric."""
    targets = test["label"].to_numpy(dtype=np.int64)
    names = test["domain"].to_numpy()
    per_domain: dict[str, Any] = {}
    for name in sorted(set(names)):
        mask = names == name
        metrics = classification_metrics(probabilities[mask], targets[mask], n_labels)
        if trained_domains is not None:
            metrics["in_training"] = name in trained_domains
        per_domain[str(name)] = metrics
    worst: dict[str, Any] = {}
    for metric in ("accuracy", "macro_f1", "roc_auc"):
        values = {n: m[metric] for n, m in per_domain.items() if m.get(metric) is not None}
        if values:
            name = min(values, key=lambda n: values[n])
            worst[metric] = {"domain": name, "value": values[name]}
    eces = {n: m["ece"] for n, m in per_domain.items()}
    if eces:
        name = max(eces, key=lambda n: eces[n])
        worst["ece"] = {"domain": name, "value": eces[name]}
    return {"domains": per_domain, "worst": worst}


def evaluate(
    predict_proba: PredictProba,
    test: pd.DataFrame,
    *,
    task: str,
    labels: Sequence[str],
    out_dir: Path,
    datasets_dir: Path | None,
    seed: int,
    robustness_samples: int = 1000,
    trained_domains: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate on `test` (columns text, label; optional domain and context) and write
    report.json and confusion_matrix.png to `out_dir`. Returns the report. With a `domain`
    column, every domain is reported on its own ("domains", "worst_domain"): the pooled "test"
    figure is dominated by the largest source and is never "the" accuracy."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = test["text"].astype(str).tolist()
    targets = test["label"].to_numpy(dtype=np.int64)
    probabilities = predict_proba(texts, contexts_of(test))
    report: dict[str, Any] = {
        "task": task,
        "labels": list(labels),
        "test": classification_metrics(probabilities, targets, len(labels)),
    }
    if "domain" in test.columns:
        by_domain = domain_report(probabilities, test, len(labels), trained_domains)
        report["domains"] = by_domain["domains"]
        report["worst_domain"] = by_domain["worst"]
    lengths = np.array([len(t.split()) for t in texts])
    slices: dict[str, Any] = {}
    for name, low, high in LENGTH_BUCKETS:
        mask = (lengths >= low) & (lengths <= high)
        if mask.any():
            slices[name] = classification_metrics(probabilities[mask], targets[mask], len(labels))
            del slices[name]["confusion_matrix"]
    report["slices"] = {"length_words": slices}
    rng = random.Random(seed)  # noqa: S311
    sample = rng.sample(texts, min(robustness_samples, len(texts)))
    report["robustness_flip_rate"] = robustness(predict_proba, sample, seed=seed)
    report["robustness_samples"] = len(sample)
    if task == "sentiment" and datasets_dir is not None and "domain" not in test.columns:
        sst2 = load_sst2(datasets_dir, "test")
        sst2_probabilities = predict_proba(sst2["text"].tolist(), None)
        sst2_targets = sst2["label"].to_numpy(dtype=np.int64)
        ood = classification_metrics(sst2_probabilities, sst2_targets, len(labels))
        report["out_of_domain"] = {"sst2_test": ood}
    plot_confusion_matrix(
        report["test"]["confusion_matrix"], labels, out_dir / "confusion_matrix.png"
    )
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
