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
from sentimentops.training.onnx_export import DomainSample, export_classifier
from sentimentops.training.perturb import augment


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
    # Training texts that define "in domain" for the out-of-distribution detector.
    domain_sample: DomainSample | None = None

    def predict_proba(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> FloatArray:
        logits = predict_logits(
            self.module,
            self.encoder.ids(texts, contexts),
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
        validation_contexts: list[str | None] | None = None,
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
            validation_contexts=validation_contexts,
            domain_sample=self.domain_sample,
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


def training_inputs(
    config: MinilmConfig | NotebookConfig, data: FitData
) -> tuple[list[str], list[str | None] | None]:
    """The texts and contexts the loop sees: noise-augmented texts, and contexts of which a
    share is dropped so that the model also answers without one."""
    texts = list(data.train_texts)
    if config.data.augment is not None and config.data.augment.rate > 0:
        texts = augment(texts, rate=config.data.augment.rate, seed=config.seed)
    contexts = data.train_contexts if config.data.use_context else None
    if contexts is not None and config.data.context_dropout > 0:
        rng = np.random.default_rng([config.seed, 7])
        drop = rng.random(len(contexts)) < config.data.context_dropout
        contexts = [None if d else c for c, d in zip(contexts, drop, strict=True)]
    return texts, contexts


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
    number of texts) and keep what its export needs, calibration texts included. Augmentation
    and context dropout (config.data) are seeded: a resumed fit sees the same rows."""
    texts, contexts = training_inputs(config, data)
    rows = encoder.ids(texts, contexts)
    loop = fine_tune(
        module,
        rows=rows,
        targets=data.train_targets,
        encoder=encoder,
        optim=config.optim,
        seed=config.seed,
        device=device,
        context=context,
        fingerprint=f"{fingerprint}:{len(rows)}",
    )
    return TrainedTorchClassifier(
        config,
        module,
        encoder,
        device,
        data.labels,
        loop,
        manifest_extra=manifest_extra or {},
        extra_metrics=extra_metrics or {},
        calibration_texts=calibration_sample(
            data.train_texts, config.export.int8_calibration_samples, config.seed
        ),
        domain_sample=domain_sample(data, config.seed),
    )


# Training texts the out-of-distribution detector is fitted on: enough for a stable 384 x 384
# covariance, few enough to embed in a minute on 2 cores.
DOMAIN_SAMPLE_SIZE = 4000


def domain_sample(data: FitData, seed: int) -> DomainSample:
    """A seeded sample of the (unaugmented) training texts with their targets and contexts."""
    n = len(data.train_texts)
    picked = np.arange(n)
    if n > DOMAIN_SAMPLE_SIZE:
        picked = np.sort(np.random.default_rng([seed, 11]).choice(n, DOMAIN_SAMPLE_SIZE, False))
    contexts = data.train_contexts
    return DomainSample(
        texts=[data.train_texts[i] for i in picked],
        contexts=[contexts[i] for i in picked] if contexts is not None else None,
        targets=np.asarray(data.train_targets)[picked],
    )
