"""The `tfidf_lr` family: word and character-n-gram TF-IDF + logistic regression (scikit-learn),
exported to the pickle-free `sentimentops.tfidf_lr/v1` artifact that
inference/runtime/linear.py serves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime.linear import DEFAULT_PREPROCESS, FORMAT, PREPROCESSORS
from sentimentops.training.config import TfidfLrConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ARRAYS_FILE = "arrays.npz"


@dataclass
class TfidfLrModel:
    """A fitted pipeline: preprocess → one TF-IDF block per featuriser → logistic regression."""

    config: TfidfLrConfig
    labels: tuple[str, ...]
    vectorizers: list[TfidfVectorizer]
    classifier: LogisticRegression
    # Naive-Bayes log-count ratios (config.classifier.nb_scale), else None.
    nb_ratio: FloatArray | None
    preprocess: str = DEFAULT_PREPROCESS

    @classmethod
    def fit(
        cls,
        config: TfidfLrConfig,
        texts: Sequence[str],
        targets: IntArray,
        labels: Sequence[str],
    ) -> TfidfLrModel:
        """Fit the featurisers and the classifier (deterministic for a given config and data)."""
        classes = np.unique(targets)
        if len(texts) == 0 or len(classes) < 2:
            raise InvalidInput("training needs texts of at least two classes")
        if classes.min() < 0 or classes.max() >= len(labels):
            raise InvalidInput(f"labels must be 0..{len(labels) - 1}, got {classes.tolist()}")
        if config.classifier.nb_scale and len(labels) != 2:
            raise InvalidInput("nb_scale is defined for binary tasks only")
        processed = _preprocess(texts, DEFAULT_PREPROCESS)
        vectorizers = [
            TfidfVectorizer(
                lowercase=False,  # done by the preprocessor, identically in serving
                analyzer=f.analyzer,
                ngram_range=f.ngram_range,
                min_df=f.min_df,
                max_df=f.max_df,
                max_features=f.max_features,
                sublinear_tf=f.sublinear_tf,
                dtype=np.float64,
            )
            for f in config.features
        ]
        features = sp.hstack([v.fit_transform(processed) for v in vectorizers]).tocsr()
        nb_ratio = _nb_ratio(features, targets) if config.classifier.nb_scale else None
        if nb_ratio is not None:
            features = sp.csr_matrix(features.multiply(nb_ratio))
        classifier = LogisticRegression(
            C=config.classifier.C,
            max_iter=config.classifier.max_iter,
            tol=config.classifier.tol,
            solver="liblinear" if len(labels) == 2 else "lbfgs",
            random_state=config.seed,
        )
        classifier.fit(features, targets)
        return cls(config, tuple(labels), vectorizers, classifier, nb_ratio)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The classifier's input matrix for `texts`."""
        processed = _preprocess(texts, self.preprocess)
        matrix = sp.hstack([v.transform(processed) for v in self.vectorizers]).tocsr()
        if self.nb_ratio is not None:
            matrix = sp.csr_matrix(matrix.multiply(self.nb_ratio))
        return matrix

    def predict_proba(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> FloatArray:
        """Class probabilities, columns in label order (a bag of n-grams reads no context)."""
        result: FloatArray = self.classifier.predict_proba(self.features(texts))
        return result

    def save(self, directory: Path) -> list[Path]:
        """Write the serving artifact (JSON + .npz, no pickle); returns the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, FloatArray] = {}
        specs: list[dict[str, object]] = []
        written: list[Path] = []
        for i, vectorizer in enumerate(self.vectorizers):
            terms = vectorizer.get_feature_names_out().tolist()
            vocab_file = f"vocab_{i}.json"
            path = directory / vocab_file
            path.write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
            written.append(path)
            arrays[f"idf_{i}"] = np.asarray(vectorizer.idf_, dtype=np.float64)
            specs.append(
                {
                    "analyzer": vectorizer.analyzer,
                    "ngram_range": list(vectorizer.ngram_range),
                    "token_pattern": vectorizer.token_pattern,
                    "sublinear_tf": vectorizer.sublinear_tf,
                    "norm": "l2",
                    "vocabulary_file": vocab_file,
                    "n_features": len(terms),
                }
            )
        coef = np.asarray(self.classifier.coef_, dtype=np.float64)
        if self.nb_ratio is not None:
            # (x * r) . w == x . (r * w): the scaling folds into the weights.
            coef = coef * self.nb_ratio[np.newaxis, :]
        arrays["coef"] = coef
        arrays["intercept"] = np.asarray(self.classifier.intercept_, dtype=np.float64)
        arrays_path = directory / ARRAYS_FILE
        np.savez_compressed(arrays_path, allow_pickle=False, **arrays)
        written.append(arrays_path)
        manifest = {
            "format": FORMAT,
            "task": self.config.task,
            "labels": list(self.labels),
            "preprocess": self.preprocess,
            "featurizers": specs,
            "arrays_file": ARRAYS_FILE,
            "family": self.config.family,
            "seed": self.config.seed,
        }
        manifest_path = directory / "model.json"
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        written.append(manifest_path)
        return written


def _preprocess(texts: Sequence[str], name: str) -> list[str]:
    function = PREPROCESSORS[name]
    return [function(t) for t in texts]


def _nb_ratio(features: sp.csr_matrix, targets: IntArray) -> FloatArray:
    # Log-ratio of the smoothed per-class feature mass (Wang & Manning 2012).
    positive = np.asarray(features[targets == 1].sum(axis=0)).ravel() + 1.0
    negative = np.asarray(features[targets == 0].sum(axis=0)).ravel() + 1.0
    ratio: FloatArray = np.log((positive / positive.sum()) / (negative / negative.sum()))
    return ratio
