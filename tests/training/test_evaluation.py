"""The evaluation harness on a hand-made scorer (the harness needs only predict_proba)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.core.settings import REPO_ROOT
from sentimentops.training.evaluation import (
    evaluate,
    expected_calibration_error,
)
from sentimentops.training.perturb import PERTURBATIONS


def _keyword_scorer(texts: list[str], contexts: list[str | None] | None) -> np.ndarray:
    # Positive when "good" appears; deliberately brittle to casing, typos and homoglyphs.
    positive = np.array([0.9 if "good" in t else 0.2 for t in texts])
    return np.column_stack([1 - positive, positive])


def test_evaluate_writes_report_and_plot(tmp_path: Path) -> None:
    test = pd.DataFrame(
        {
            "text": ["good film", "bad film", "good good", "awful", "not good at all " * 30],
            "label": [1, 0, 1, 0, 0],
        }
    )
    report = evaluate(
        _keyword_scorer,
        test,
        task="sentiment",
        labels=["negative", "positive"],
        out_dir=tmp_path,
        datasets_dir=REPO_ROOT / "datasets",
        seed=1,
    )
    assert report["test"]["accuracy"] == pytest.approx(0.8)
    assert report["test"]["confusion_matrix"] == [[2, 1], [0, 2]]
    assert set(report["robustness_flip_rate"]) == set(PERTURBATIONS)
    assert report["robustness_flip_rate"]["emoji"] == 0.0
    assert report["robustness_samples"] == 5
    assert set(report["slices"]["length_words"]) == {"1-8", "101-300"}
    assert report["out_of_domain"]["sst2_test"]["n"] == 1821
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert (tmp_path / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")
    assert "domains" not in report  # no domain column: one pooled test set


def test_domains_are_reported_one_by_one_with_the_worst(tmp_path: Path) -> None:
    seen: list[list[str | None] | None] = []

    def scorer(texts: list[str], contexts: list[str | None] | None) -> np.ndarray:
        seen.append(contexts)
        # Reads the context: "good" in the parent comment counts as well.
        given = contexts or [None] * len(texts)
        positive = np.array(
            [
                0.9 if "good" in t or "good" in (c or "") else 0.2
                for t, c in zip(texts, given, strict=True)
            ]
        )
        return np.column_stack([1 - positive, positive])

    test = pd.DataFrame(
        {
            "text": ["good film", "bad film", "good one", "awful", "yes", "no", "sure", "fine"],
            "label": [1, 0, 1, 0, 1, 0, 1, 0],
            "domain": ["reviews"] * 4 + ["replies"] * 4,
            "context": [None, None, None, None, "good point", "", "a good day", "good grief"],
        }
    )
    report = evaluate(
        scorer,
        test,
        task="sentiment",
        labels=["negative", "positive"],
        out_dir=tmp_path,
        datasets_dir=REPO_ROOT / "datasets",
        seed=1,
        trained_domains=["reviews"],
    )
    assert seen[0] == [None, None, None, None, "good point", None, "a good day", "good grief"]
    assert all(c is None for c in seen[1:])  # the robustness suite perturbs texts alone
    assert set(report["domains"]) == {"reviews", "replies"}
    assert report["domains"]["reviews"]["accuracy"] == pytest.approx(1.0)
    assert report["domains"]["replies"]["accuracy"] == pytest.approx(0.75)
    assert report["domains"]["reviews"]["in_training"] is True
    assert report["domains"]["replies"]["in_training"] is False
    assert report["worst_domain"]["accuracy"] == {"domain": "replies", "value": 0.75}
    assert report["test"]["accuracy"] == pytest.approx(7 / 8)
    # SST-2 is an out-of-domain check for a single-source model; domains replace it.
    assert "out_of_domain" not in report


def test_expected_calibration_error() -> None:
    targets = np.array([1, 1, 0, 0])
    perfect = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert expected_calibration_error(perfect, targets) == 0.0
    overconfident = np.array([[0.0, 1.0]] * 4)
    assert expected_calibration_error(overconfident, targets) == pytest.approx(0.5)


def test_perturbations_are_seeded() -> None:
    import random

    text = "a perfectly ordinary sentence about cinema"
    for perturb in PERTURBATIONS.values():
        assert perturb(text, random.Random(3)) == perturb(text, random.Random(3))  # noqa: S311
