"""The interface every model family implements, so that training.service dispatches by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from sentimentops.training.config import TrainingConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
PredictProba = Callable[[list[str], list[str | None] | None], FloatArray]
Step = Callable[[str], None]
# (what is running, units done, units in all or None when unknown)
Progress = Callable[[str, int, int | None], None]


def _no_step(_message: str) -> None:
    return None


def _no_progress(_description: str, _completed: int, _total: int | None) -> None:
    return None


@dataclass(frozen=True)
class FitData:
    """Training and validation texts with integer targets (0..len(labels) - 1)."""

    train_texts: list[str]
    train_targets: IntArray
    validation_texts: list[str]
    validation_targets: IntArray
    labels: tuple[str, ...]
    # The previous turn of each text (a parent comment) or None; None: no text has one.
    train_contexts: list[str | None] | None = None
    validation_contexts: list[str | None] | None = None


@dataclass(frozen=True)
class FitContext:
    """Collaborators of a fit: progress reporting and where checkpoints go."""

    on_step: Step = _no_step
    on_progress: Progress = _no_progress
    # Families that train for minutes checkpoint here; None disables checkpoints.
    checkpoint_dir: Path | None = None
    # Continue from the newest checkpoint in checkpoint_dir when one matches this training.
    resume: bool = False


@dataclass(frozen=True)
class Export:
    """What an export wrote and measured."""

    # The scorer to evaluate: the serving artifact itself where it differs from predict_proba.
    predict_proba: PredictProba
    metrics: dict[str, float] = field(default_factory=dict)
    # Extra artifact directories to record next to the serving artifact (MLflow path → dir).
    extra_artifacts: dict[str, Path] = field(default_factory=dict)


class TrainedModel(Protocol):
    """A fitted model of some family."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict_proba(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> FloatArray: ...

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
        """Write the pickle-free serving artifact to `directory` (inference/artifacts.py loads
        it) and check it; raise InvalidInput when the artifact must not be registered."""
        ...


class ModelFamily(Protocol):
    """A family: fits a TrainedModel from its typed config."""

    name: str

    def fit(self, config: TrainingConfig, data: FitData, context: FitContext) -> TrainedModel: ...
