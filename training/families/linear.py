"""The `tfidf_lr` family behind the family interface (the model itself: training/tfidf_lr.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training.calibration import fit_temperature
from sentimentops.training.config import TfidfLrConfig, TrainingConfig
from sentimentops.training.families.base import (
    Export,
    FitContext,
    FitData,
    FloatArray,
    IntArray,
    Step,
)
from sentimentops.training.tfidf_lr import TfidfLrModel


@dataclass
class TrainedLinear:
    """A fitted TfidfLrModel; its numpy runtime reproduces predict_proba exactly."""

    model: TfidfLrModel

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    def predict_proba(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> FloatArray:
        return self.model.predict_proba(texts)

    def export(
        self,
        directory: Path,
        *,
        validation_texts: list[str],
        validation_targets: IntArray,
        work_dir: Path,
        on_step: Step,
        validation_contexts: list[str | None] | None = None,
    ) -> Export:
        self.model.save(directory)
        if not validation_texts:
            return Export(predict_proba=self.model.predict_proba)
        metrics = calibrate_linear(directory, validation_texts, validation_targets)
        served = LinearModel.load(directory)
        return Export(predict_proba=served.predict_proba, metrics=metrics)


# The share of in-domain validation texts whose vocabulary coverage counts as in domain.
COVERAGE_QUANTILE = 0.05


def calibrate_linear(directory: Path, texts: list[str], targets: IntArray) -> dict[str, float]:
    """Fit the artifact's temperature and vocabulary-coverage threshold on validation texts and
    write both into its model.json (the runtime reads them)."""
    model = LinearModel.load(directory)
    scores = model.decision_function(texts)
    logits = np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores
    temperature = fit_temperature(logits, targets)
    threshold = float(np.quantile(model.coverage(texts), COVERAGE_QUANTILE))
    path = directory / "model.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest["temperature"] = temperature
    manifest["ood"] = {
        "method": "vocabulary_coverage",
        "threshold": threshold,
        "quantile": COVERAGE_QUANTILE,
    }
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {"calibration_temperature": temperature, "ood_threshold": threshold}


class LinearFamily:
    name = "tfidf_lr"

    def fit(self, config: TrainingConfig, data: FitData, context: FitContext) -> TrainedLinear:
        if not isinstance(config, TfidfLrConfig):
            raise InvalidInput(f"the tfidf_lr family needs a tfidf_lr config, not {config.family}")
        return TrainedLinear(
            TfidfLrModel.fit(config, data.train_texts, data.train_targets, data.labels)
        )


FAMILY = LinearFamily()
