"""Multilingual, code-mixed and golden-set reports with a real (small) tfidf_lr serving model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import REPO_ROOT
from sentimentops.core.vocabulary import TASKS
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training import reports
from sentimentops.training.config import TfidfLrConfig, default_config_path, load_config
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.training.tfidf_lr import TfidfLrModel

DATASETS = REPO_ROOT / "datasets"


def _model(frame: pd.DataFrame, task: str, directory: Path) -> LinearModel:
    train = frame[frame["split"] == "train"]
    config = load_config(default_config_path(task, "tfidf_lr"))
    assert isinstance(config, TfidfLrConfig)
    fitted = TfidfLrModel.fit(
        config, train["text"].tolist(), train["label"].to_numpy(dtype=np.int64), LABEL_NAMES[task]
    )
    fitted.save(directory)
    return LinearModel.load(directory)


@pytest.fixture(scope="module")
def sentiment_model(
    imdb_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> LinearModel:
    return _model(imdb_sample, "sentiment", tmp_path_factory.mktemp("sentiment"))


def test_multilingual_report_uses_the_two_class_subset(sentiment_model: LinearModel) -> None:
    report = reports.multilingual_report(sentiment_model, DATASETS)
    assert set(report["languages"]) == {"ar", "de", "en", "es", "fr", "hi", "it", "pt"}
    english = report["languages"]["en"]
    # 870 test tweets per language, a third of them neutral and excluded.
    assert english["n"] + english["n_neutral_excluded"] == 870
    assert english["n_neutral_excluded"] == 290
    assert 0.0 <= english["macro_f1"] <= 1.0
    assert english["confusion_matrix"]
    assert len(english["confusion_matrix"]) == 2
    # Trained on English reviews only: English tweets are the best-scored language.
    assert english["accuracy"] == max(m["accuracy"] for m in report["languages"].values())


def test_code_mixed_report_covers_both_pairs(sentiment_model: LinearModel) -> None:
    report = reports.code_mixed_report(sentiment_model, DATASETS)
    assert set(report["pairs"]) == {"hi-en", "es-en"}
    for parts in report["pairs"].values():
        assert set(parts) == {"train", "trial"}
        assert all(m["n"] > 1000 and m["n_neutral_excluded"] > 0 for m in parts.values())


def test_a_scorer_without_polarity_classes_is_refused(
    tmp_path: Path, sarcasm_sample: pd.DataFrame
) -> None:
    sarcasm = _model(sarcasm_sample, "sarcasm", tmp_path / "m")
    with pytest.raises(InvalidInput, match="no \\['negative', 'positive'\\] classes"):
        reports.multilingual_report(sarcasm, DATASETS)


def test_golden_comparison_lists_changed_predictions(
    sentiment_model: LinearModel, imdb_sample: pd.DataFrame, tmp_path: Path
) -> None:
    model_info = {"name": "sentiment", "version": "test", "alias": "none", "family": "tfidf_lr"}
    golden = reports.build_golden("sentiment", sentiment_model, DATASETS, model=model_info)
    assert len(golden.items) == reports.GOLDEN_SIZE
    assert sum(item.label for item in golden.items) == reports.GOLDEN_SIZE // 2
    path = tmp_path / "golden.json"
    reports.save_golden(golden, path)
    loaded = reports.load_golden(path)
    assert loaded == golden

    same = reports.compare_golden(loaded, sentiment_model)
    assert same.changed == []
    assert same.agreement == 1.0

    # A weaker candidate (a tenth of the data) changes some answers; each change is listed.
    smaller = imdb_sample[imdb_sample["split"] == "train"].head(60).assign(split="train")
    weaker = _model(smaller, "sentiment", tmp_path / "weak")
    diff = reports.compare_golden(loaded, weaker)
    assert diff.changed
    assert diff.agreement == pytest.approx(1 - len(diff.changed) / diff.n)
    assert diff.fixed + diff.broken == len(diff.changed)  # binary: every change fixes or breaks
    change = diff.changed[0]
    assert change.reference != change.candidate
    assert len(change.text) <= 160
    delta = round(diff.candidate_accuracy - diff.reference_accuracy, 6)
    assert delta == round((diff.fixed - diff.broken) / diff.n, 6)


@pytest.mark.parametrize("task", TASKS)
def test_the_checked_in_golden_sets_are_complete(task: str) -> None:
    golden = reports.load_golden(reports.golden_path(DATASETS, task))
    assert golden.task == task
    assert golden.labels == LABEL_NAMES[task]
    assert len(golden.items) == reports.GOLDEN_SIZE
    assert len({item.id for item in golden.items}) == reports.GOLDEN_SIZE
    # The sample is reproducible from the reference data.
    sample = reports.golden_sample(task, DATASETS)
    assert [item.id for item in golden.items] == sample["id"].tolist()
