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

from sentimentops.training.reference_data import load_sst2

FloatArray = npt.NDArray[np.float64]
PredictProba = Callable[[list[str]], FloatArray]

ECE_BINS = 15
# Word-count buckets: headlines fall in the first two, reviews spread over the rest.
LENGTH_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1-8", 1, 8),
    ("9-20", 9, 20),
    ("21-100", 21, 100),
    ("101-300", 101, 300),
    ("301+", 301, 10**9),
)
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у"}
EMOJI = ("😀", "😂", "🙄", "👍", "🔥", "😢")


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


# --- Robustness perturbations (seeded) -------------------------------------------------------
def _typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < 0.15:
            j = rng.randrange(len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def _emoji(text: str, rng: random.Random) -> str:
    return f"{text} {rng.choice(EMOJI)}"


def _zero_width(text: str, rng: random.Random) -> str:
    return "".join(ch + "\u200b" if ch.isalpha() and rng.random() < 0.1 else ch for ch in text)


def _homoglyphs(text: str, rng: random.Random) -> str:
    return "".join(HOMOGLYPHS[ch] if ch in HOMOGLYPHS and rng.random() < 0.1 else ch for ch in text)


def _casing(text: str, rng: random.Random) -> str:
    return text.upper() if rng.random() < 0.5 else text.title()


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "typos": _typos,
    "appended_emoji": _emoji,
    "zero_width": _zero_width,
    "homoglyphs": _homoglyphs,
    "casing": _casing,
}


def robustness(predict_proba: PredictProba, texts: Sequence[str], *, seed: int) -> dict[str, float]:
    """Per perturbation, the share of texts whose predicted label changes."""
    base = predict_proba(list(texts)).argmax(axis=1)
    flips: dict[str, float] = {}
    for name, perturb in PERTURBATIONS.items():
        # Seeded for reproducible reports, not security.
        rng = random.Random(f"{seed}:{name}")  # noqa: S311
        changed = predict_proba([perturb(t, rng) for t in texts]).argmax(axis=1)
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
        axes.text(col, row, str(value), ha="center", va="center",
                  color="white" if value > threshold else "black")  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
) -> dict[str, Any]:
    """Evaluate on `test` (columns text, label) and write report.json and
    confusion_matrix.png to `out_dir`. Returns the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = test["text"].astype(str).tolist()
    targets = test["label"].to_numpy(dtype=np.int64)
    probabilities = predict_proba(texts)
    report: dict[str, Any] = {
        "task": task,
        "labels": list(labels),
        "test": classification_metrics(probabilities, targets, len(labels)),
    }
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
    if task == "sentiment" and datasets_dir is not None:
        sst2 = load_sst2(datasets_dir, "test")
        sst2_probabilities = predict_proba(sst2["text"].tolist())
        sst2_targets = sst2["label"].to_numpy(dtype=np.int64)
        ood = classification_metrics(sst2_probabilities, sst2_targets, len(labels))
        report["out_of_domain"] = {"sst2_test": ood}
    plot_confusion_matrix(
        report["test"]["confusion_matrix"], labels, out_dir / "confusion_matrix.png"
    )
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
