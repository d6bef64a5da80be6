"""Likely label errors by confident learning (Northcutt et al. 2021, via cleanlab): out-of-fold
probabilities from a fast model (word + character TF-IDF and logistic regression, k folds,
seeded), then cleanlab's `find_label_issues` ranked by self-confidence.

Out-of-fold matters: a model scored on rows it was fitted on has memorised their labels, flipped
ones included, and would call almost nothing suspect. The model is deliberately the cheap one
(seconds on 2 cores for the sarcasm set); the ranking needs calibrated-enough probabilities,
not the best accuracy.

This module computes only; the Data Curation agent (agents/curation_agent.py) and its flow
(curation/flows.py) decide what to do with the list."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from cleanlab.filter import find_label_issues
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from sentimentops.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_FOLDS = 5
DEFAULT_SEED = 0
# Fewest rows per class for k-fold probabilities to mean anything (each fold must hold both).
MIN_ROWS_PER_CLASS = 10


@dataclass(frozen=True)
class SuspectedLabel:
    """One row whose given label the out-of-fold model confidently disagrees with."""

    row_id: str
    text_sha256: str
    given_label: int
    suggested_label: int
    # 1 - the model's out-of-fold probability of the given label: higher is more suspect.
    score: float


def _features(train: Sequence[str], test: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Word 1-2-grams and character 2-5-grams, fitted on the training fold only."""
    blocks_train, blocks_test = [], []
    for vectorizer in (
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
    ):
        blocks_train.append(vectorizer.fit_transform(train))
        blocks_test.append(vectorizer.transform(test))
    return sp.hstack(blocks_train).tocsr(), sp.hstack(blocks_test).tocsr()


def out_of_fold_probabilities(
    texts: Sequence[str],
    labels: IntArray,
    *,
    n_classes: int,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> FloatArray:
    """P(class | text) for every row from a model that never saw that row (stratified k-fold)."""
    counts = np.bincount(labels, minlength=n_classes)
    if len(counts) > n_classes or (counts[counts > 0] < max(folds, MIN_ROWS_PER_CLASS)).any():
        raise InvalidInput(
            f"confident learning needs labels 0..{n_classes - 1} with at least "
            f"{max(folds, MIN_ROWS_PER_CLASS)} rows each; got counts {counts.tolist()}"
        )
    probabilities = np.zeros((len(texts), n_classes), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    as_list = list(texts)
    for train_idx, test_idx in splitter.split(np.zeros(len(as_list)), labels):
        x_train, x_test = _features([as_list[i] for i in train_idx], [as_list[i] for i in test_idx])
        model = LogisticRegression(C=4.0, max_iter=1000, random_state=seed)
        model.fit(x_train, labels[train_idx])
        # Classes absent from a fold keep probability 0 (only possible with n_classes > seen).
        probabilities[np.ix_(test_idx, model.classes_)] = model.predict_proba(x_test)
    return probabilities


def rank_label_issues(labels: IntArray, probabilities: FloatArray) -> list[int]:
    """Indices of rows cleanlab flags (prune by noise rate over the confident joint), most
    suspect first (lowest self-confidence, i.e. probability of the given label)."""
    ranked = find_label_issues(
        labels=labels,
        pred_probs=probabilities,
        filter_by="prune_by_noise_rate",
        return_indices_ranked_by="self_confidence",
    )
    return [int(i) for i in ranked]


def suspected_label_errors(
    row_ids: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    n_classes: int,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> list[SuspectedLabel]:
    """The ranked suspected-error list of a labelled set (see the module docstring)."""
    if not len(row_ids) == len(texts) == len(labels):
        raise InvalidInput("row ids, texts and labels must have the same length")
    given = np.asarray(labels, dtype=np.int64)
    probabilities = out_of_fold_probabilities(
        texts, given, n_classes=n_classes, folds=folds, seed=seed
    )
    return [
        SuspectedLabel(
            row_id=str(row_ids[i]),
            text_sha256=hashlib.sha256(str(texts[i]).encode()).hexdigest(),
            given_label=int(given[i]),
            suggested_label=int(np.argmax(probabilities[i])),
            score=round(float(1.0 - probabilities[i, given[i]]), 6),
        )
        for i in rank_label_issues(given, probabilities)
    ]
