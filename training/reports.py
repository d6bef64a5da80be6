"""Evaluation reports beyond the test split: multilingual (XLM-T), code-mixed (SentiMix) and a
golden regression set per task.

Every report takes a scorer (anything with `labels` and `predict_proba(texts)`: every serving
runtime's `Scorer` in inference/runtime/base.py qualifies), so each model family is measured
the same way.

Our sentiment models are binary (negative/positive) while XLM-T and SentiMix have three classes.
The reports use the **2-class subset**: rows labelled neutral are excluded (their number is
reported), negative and positive are kept, and the model's prediction is the more probable of its
negative and positive classes. This measures polarity on non-neutral texts; it says nothing about
how a binary model treats neutral ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime.base import FloatArray
from sentimentops.training.evaluation import classification_metrics
from sentimentops.training.reference_data import (
    LABEL_NAMES,
    SENTIMIX_LABELS,
    XLMT_LANGUAGES,
    load_sentimix,
    load_task,
    load_xlmt,
)


class ProbaScorer(Protocol):
    """The part of inference.runtime.base.Scorer that evaluation needs."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict_proba(self, texts: Sequence[str]) -> FloatArray: ...


# 3-class benchmark labels → our binary sentiment classes; neutral (1) is excluded.
THREE_TO_TWO = {SENTIMIX_LABELS["negative"]: 0, SENTIMIX_LABELS["positive"]: 1}
XLMT_ISO = {
    "arabic": "ar", "english": "en", "french": "fr", "german": "de",
    "hindi": "hi", "italian": "it", "portuguese": "pt", "spanish": "es",
}  # fmt: skip
SENTIMIX_FILES = {
    "hi-en": ("train_conll_hinglish.txt", "hinglish_trial.txt"),
    "es-en": ("train_conll_spanglish.txt", "spanglish_trial.txt"),
}


def _polarity_columns(scorer: ProbaScorer) -> list[int]:
    labels = list(scorer.labels)
    missing = [name for name in LABEL_NAMES["sentiment"] if name not in labels]
    if missing:
        raise InvalidInput(f"the scorer has no {missing} classes (labels {labels})")
    return [labels.index(name) for name in LABEL_NAMES["sentiment"]]


def two_class_metrics(scorer: ProbaScorer, frame: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, macro-F1 (and ECE, ROC-AUC) on the negative/positive rows of a 3-class frame."""
    kept = frame[frame["label"].isin(list(THREE_TO_TWO))]
    targets = kept["label"].map(THREE_TO_TWO).to_numpy(dtype=np.int64)
    if len(kept) == 0:
        raise InvalidInput("no negative or positive rows to evaluate")
    probabilities = scorer.predict_proba(kept["text"].astype(str).tolist())
    pair = probabilities[:, _polarity_columns(scorer)]
    # Renormalised over the two classes (a no-op for binary models).
    pair = pair / np.clip(pair.sum(axis=1, keepdims=True), 1e-12, None)
    metrics = classification_metrics(pair, targets, 2)
    metrics["n_neutral_excluded"] = int(len(frame) - len(kept))
    return metrics


def multilingual_report(
    scorer: ProbaScorer, datasets_dir: Path, *, split: str = "test"
) -> dict[str, Any]:
    """XLM-T per language (2-class subset), plus the macro average over languages."""
    languages: dict[str, Any] = {}
    for language in XLMT_LANGUAGES:
        metrics = two_class_metrics(scorer, load_xlmt(datasets_dir, language, split))
        languages[XLMT_ISO[language]] = metrics
    return {
        "dataset": f"xlmt/{split}",
        "protocol": "2-class subset: neutral excluded; argmax of negative vs positive",
        "languages": languages,
        "mean_accuracy": float(np.mean([m["accuracy"] for m in languages.values()])),
        "mean_macro_f1": float(np.mean([m["macro_f1"] for m in languages.values()])),
    }


def code_mixed_report(scorer: ProbaScorer, datasets_dir: Path) -> dict[str, Any]:
    """SentiMix hi-en and es-en (2-class subset). The organisers' train files serve as evaluation
    data here (our models never train on them); the trial files are the small official samples."""
    pairs: dict[str, Any] = {}
    for pair, files in SENTIMIX_FILES.items():
        pairs[pair] = {
            ("train" if "train" in file else "trial"): two_class_metrics(
                scorer, load_sentimix(datasets_dir, file)
            )
            for file in files
        }
    return {
        "dataset": "sentimix",
        "protocol": "2-class subset: neutral excluded; argmax of negative vs positive",
        "pairs": pairs,
    }


# --- Golden regression set --------------------------------------------------------------------
GOLDEN_FORMAT = "sentimentops.golden/v1"
GOLDEN_SIZE = 200
GOLDEN_SEED = 20261127


class GoldenItem(BaseModel):
    id: str
    text: str
    label: int  # the dataset's (gold) label
    predicted: int  # the reference model's predicted class index
    probability: float  # the reference model's probability of `predicted`


class GoldenSet(BaseModel):
    """A fixed sample of a task's test texts with the reference (production) model's answers."""

    format: str = GOLDEN_FORMAT
    task: str
    labels: list[str]
    model: dict[str, str]  # name, version, alias, family: which model made `predicted`
    source: str  # where the texts come from
    items: list[GoldenItem]


class ChangedPrediction(BaseModel):
    id: str
    text: str
    label: str
    reference: str
    candidate: str
    reference_probability: float
    candidate_probability: float


class GoldenComparison(BaseModel):
    task: str
    n: int
    changed: list[ChangedPrediction] = Field(default_factory=list)
    agreement: float
    reference_accuracy: float
    candidate_accuracy: float
    fixed: int  # changed from wrong to right
    broken: int  # changed from right to wrong


def golden_sample(task: str, datasets_dir: Path, *, size: int = GOLDEN_SIZE) -> pd.DataFrame:
    """A seeded sample of the task's test split, balanced across labels."""
    test = load_task(task, datasets_dir)
    test = test[test["split"] == "test"]
    per_label = size // len(LABEL_NAMES[task])
    parts = [
        test[test["label"] == label].sample(n=per_label, random_state=GOLDEN_SEED)
        for label in range(len(LABEL_NAMES[task]))
    ]
    sample = pd.concat(parts).sort_values("id", kind="stable")
    return sample.reset_index(drop=True)


def build_golden(
    task: str, scorer: ProbaScorer, datasets_dir: Path, *, model: dict[str, str]
) -> GoldenSet:
    """The golden set of `task` with `scorer`'s predictions (the current production model's)."""
    if list(scorer.labels) != LABEL_NAMES[task]:
        raise InvalidInput(f"scorer labels {list(scorer.labels)} are not {task}'s")
    sample = golden_sample(task, datasets_dir)
    probabilities = scorer.predict_proba(sample["text"].tolist())
    predicted = probabilities.argmax(axis=1)
    items = [
        GoldenItem(
            id=str(i),
            text=str(t),
            label=int(y),
            predicted=int(p),
            probability=round(float(pr[p]), 6),
        )
        for i, t, y, p, pr in zip(
            sample["id"], sample["text"], sample["label"], predicted, probabilities, strict=True
        )
    ]
    source = "IMDB test" if task == "sentiment" else "sarcasm headlines v1, hash-split test"
    return GoldenSet(task=task, labels=LABEL_NAMES[task], model=model, source=source, items=items)


def golden_path(datasets_dir: Path, task: str) -> Path:
    return datasets_dir / "golden" / f"{task}.json"


def save_golden(golden: GoldenSet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(golden.model_dump(mode="json"), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def load_golden(path: Path) -> GoldenSet:
    golden = GoldenSet.model_validate_json(path.read_text(encoding="utf-8"))
    if golden.format != GOLDEN_FORMAT:
        raise InvalidInput(f"{path.name}: unknown golden-set format {golden.format!r}")
    return golden


def compare_golden(golden: GoldenSet, candidate: ProbaScorer) -> GoldenComparison:
    """Which golden texts a candidate labels differently from the reference model."""
    if list(candidate.labels) != golden.labels:
        raise InvalidInput(f"candidate labels {list(candidate.labels)} are not {golden.labels}")
    probabilities = candidate.predict_proba([item.text for item in golden.items])
    predicted = probabilities.argmax(axis=1)
    names = golden.labels
    changed: list[ChangedPrediction] = []
    fixed = broken = 0
    for item, p, row in zip(golden.items, predicted, probabilities, strict=True):
        if int(p) == item.predicted:
            continue
        fixed += int(p) == item.label
        broken += item.predicted == item.label
        changed.append(
            ChangedPrediction(
                id=item.id,
                text=item.text if len(item.text) <= 160 else item.text[:159] + "…",
                label=names[item.label],
                reference=names[item.predicted],
                candidate=names[int(p)],
                reference_probability=item.probability,
                candidate_probability=round(float(row[p]), 6),
            )
        )
    n = len(golden.items)
    labels = np.array([item.label for item in golden.items])
    reference = np.array([item.predicted for item in golden.items])
    return GoldenComparison(
        task=golden.task,
        n=n,
        changed=changed,
        agreement=1.0 - len(changed) / n if n else 1.0,
        reference_accuracy=float((reference == labels).mean()) if n else 0.0,
        candidate_accuracy=float((predicted == labels).mean()) if n else 0.0,
        fixed=fixed,
        broken=broken,
    )


__all__ = [
    "ChangedPrediction",
    "GoldenComparison",
    "GoldenSet",
    "ProbaScorer",
    "build_golden",
    "code_mixed_report",
    "compare_golden",
    "load_golden",
    "multilingual_report",
    "save_golden",
    "two_class_metrics",
]
