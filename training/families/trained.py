"""A trained PyTorch classifier of any torch family: scoring through its encoder and export to
the ONNX serving format. The families differ in how they build and train the module, not here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentimentops.training.config import MinilmConfig, NotebookConfig
from sentimentops.training.families.base import (
    Export,
    FitContext,
    FitData,
    FloatArray,
    IntArray,
    Step,
)
from sentimentops.training.families.encoding import Encoder
from sentimentops.training.families.torch_loop import (
    LoopResult,
    fine_tune,
    predict_logits,
    softmax,
)
from sentimentops.training.onnx_export import export_classifier


@dataclass
class TrainedTorchClassifier:
    """A module trained by `fine_tune`, with the encoder that frames its inputs.

    `manifest_extra` goes into the artifact's model.json; `extra_metrics` into the run."""

    config: MinilmConfig | NotebookConfig
    module: nn.Module
    encoder: Encoder
    device: torch.device
    labels: tuple[str, ...]
    loop: LoopResult
    manifest_extra: dict[str, object] = field(default_factory=dict)
    extra_metrics: dict[str, float] = field(default_factory=dict)
    # Training texts that rank weight matrices for mixed-precision int8 (export config).
    calibration_texts: list[str] = field(default_factory=list)

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        logits = predict_logits(
            self.module,
            self.encoder.ids(texts),
            encoder=self.encoder,
            batch_size=self.config.optim.eval_batch_size,
            device=self.device,
        )
        return softmax(logits)

    def export(
        self,
        directory: Path,
        *,
        validation_texts: list[str],
        validation_targets: IntArray,
        work_dir: Path,
        on_step: Step,
    ) -> Export:
        result = export_classifier(
            self.module,
            encoder=self.encoder,
            torch_proba=self.predict_proba,
            directory=directory,
            work_dir=work_dir,
            task=self.config.task,
            labels=self.labels,
            config=self.config.export,
            eval_batch_size=self.config.optim.eval_batch_size,
            seed=self.config.seed,
            manifest_extra={
                "family": self.config.family,
                "seed": self.config.seed,
                "trained_on": self.loop.trained_on,
                **self.manifest_extra,
            },
            validation_texts=validation_texts,
            validation_targets=validation_targets,
            on_step=on_step,
            calibration_texts=self.calibration_texts,
        )
        result.metrics.update(
            {
                "train_steps": float(self.loop.steps),
                "train_resumed_at_step": float(self.loop.resumed_at_step),
                "train_final_loss": self.loop.final_loss,
                "train_on_cuda": float(self.loop.trained_on != "cpu"),
                "train_loop_seconds": self.loop.seconds,
                **self.extra_metrics,
            }
        )
        return result


# The mixed-precision search ranks on the least sure `n` of a pool this many times larger.
CALIBRATION_POOL_FACTOR = 8


def calibration_sample(texts: Sequence[str], n: int, seed: int) -> list[str]:
    """A seeded pool of CALIBRATION_POOL_FACTOR × `n` training texts (all when fewer)."""
    n *= CALIBRATION_POOL_FACTOR
    if n >= len(texts):
        return list(texts)
    picked = np.random.default_rng(seed).choice(len(texts), size=n, replace=False)
    return [texts[i] for i in sorted(picked)]


def fit_classifier(
    config: MinilmConfig | NotebookConfig,
    module: nn.Module,
    *,
    encoder: Encoder,
    device: torch.device,
    data: FitData,
    context: FitContext,
    fingerprint: str,
    manifest_extra: dict[str, object] | None = None,
    extra_metrics: dict[str, float] | None = None,
) -> TrainedTorchClassifier:
    """Fine-tune `module` on the training texts (checkpoints keyed by `fingerprint` and the
    number of texts) and keep what its export needs, calibration texts included."""
    rows = encoder.ids(data.train_texts)
    loop = fine_tune(
        module, rows=rows, targets=data.train_targets, encoder=encoder, optim=config.optim,
        seed=config.seed, device=device, context=context, fingerprint=f"{fingerprint}:{len(rows)}",
    )  # fmt: skip
    return TrainedTorchClassifier(
        config, module, encoder, device, data.labels, loop,
        manifest_extra=manifest_extra or {}, extra_metrics=extra_metrics or {},
        calibration_texts=calibration_sample(
            data.train_texts, config.export.int8_calibration_samples, config.seed
        ),
    )  # fmt: skip
