"""The `tfidf_lr` family behind the family interface (the model itself: training/tfidf_lr.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sentimentops.core.errors import InvalidInput
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
        return Export(predict_proba=self.model.predict_proba)


class LinearFamily:
    name = "tfidf_lr"

    def fit(self, config: TrainingConfig, data: FitData, context: FitContext) -> TrainedLinear:
        if not isinstance(config, TfidfLrConfig):
            raise InvalidInput(f"the tfidf_lr family needs a tfidf_lr config, not {config.family}")
        return TrainedLinear(
            TfidfLrModel.fit(config, data.train_texts, data.train_targets, data.labels)
        )


FAMILY = LinearFamily()
