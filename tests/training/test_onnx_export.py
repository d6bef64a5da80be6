"""MiniLM fine-tuned for a few steps, exported to ONNX (fp32 and int8), served through the
inference loader, and checked against PyTorch; a disagreeing export is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.inference.artifacts import load_scorer
from sentimentops.training.config import (
    MinilmConfig,
    OptimConfig,
    default_config_path,
    load_config,
)
from sentimentops.training.families import FitContext, FitData, get_family
from sentimentops.training.families.trained import TrainedTorchClassifier
from sentimentops.training.onnx_export import (
    ExportRejected,
    choose_fp32_nodes,
    export_classifier,
)


def tiny_minilm() -> MinilmConfig:
    """The shipped sentiment config (normaliser and augmentation included), shrunk."""
    base = load_config(default_config_path("sentiment", "minilm"))
    assert isinstance(base, MinilmConfig)
    assert base.encoding.normalize == "norm-v1"
    optim = {**base.optim.model_dump(), "epochs": 1, "batch_size": 16, "eval_batch_size": 32}
    return base.model_copy(
        update={
            "encoding": base.encoding.model_copy(update={"max_length": 32, "head_tokens": 8}),
            "optim": OptimConfig.model_validate(optim),
            # The mixed-precision search costs a quantisation per matrix: tested on a smaller
            # model in test_families.py.
            "export": base.export.model_copy(update={"int8_max_fp32_nodes": 0}),
        }
    )


@pytest.fixture(scope="module")
def minilm(imdb_sample: pd.DataFrame) -> tuple[TrainedTorchClassifier, list[str], np.ndarray]:
    train = imdb_sample[imdb_sample["split"] == "train"].head(64)
    validation = imdb_sample[imdb_sample["split"] == "validation"].head(48)
    data = FitData(
        train_texts=train["text"].tolist(),
        train_targets=train["label"].to_numpy(dtype=np.int64),
        validation_texts=validation["text"].tolist(),
        validation_targets=validation["label"].to_numpy(dtype=np.int64),
        labels=("negative", "positive"),
    )
    progress: list[int] = []
    model = get_family("minilm").fit(
        tiny_minilm(), data, FitContext(on_progress=lambda _d, done, _t: progress.append(done))
    )
    assert isinstance(model, TrainedTorchClassifier)
    assert progress[-1] == 4  # 64 texts / batch 16, one epoch
    return model, data.validation_texts, data.validation_targets


def test_minilm_exports_loads_and_agrees(
    minilm: tuple[TrainedTorchClassifier, list[str], np.ndarray], tmp_path: Path
) -> None:
    model, texts, targets = minilm
    export = model.export(
        tmp_path / "model",
        validation_texts=texts,
        validation_targets=targets,
        work_dir=tmp_path / "work",
        on_step=lambda _m: None,
    )
    metrics = export.metrics
    assert metrics["export_agreement_fp32"] >= 0.995
    assert {"export_agreement_int8", "export_accuracy_int8", "export_accuracy_fp32"} <= set(metrics)
    # The int8 model serves only when it agrees too; the other one is kept as a run artifact.
    served_int8 = metrics["export_served_int8"] == 1.0
    assert served_int8 == (metrics["export_agreement_int8"] >= 0.995)
    assert set(export.extra_artifacts) == {"model_fp32" if served_int8 else "model_int8_rejected"}

    directory = tmp_path / "model"
    manifest = json.loads((directory / "model.json").read_text())
    assert manifest["max_length"] == 32
    assert manifest["normalize"] == "norm-v1"
    assert manifest["context_tokens"] == 0
    assert manifest["family"] == "minilm"
    assert manifest["quantization"] == ("int8-dynamic-per-channel" if served_int8 else "none")
    assert manifest["temperature"] == metrics["calibration_temperature"] > 0
    assert manifest["ood"]["method"] == "mahalanobis"
    assert manifest["ood"]["file"] == "ood.npz"
    assert manifest["ood"]["threshold"] == metrics["ood_threshold"]
    tokenizer = json.loads((directory / "tokenizer.json").read_text())
    assert tokenizer["truncation"] is None  # MiniLM's file truncates at 128 otherwise
    assert tokenizer["padding"] is None
    assert sorted(p.name for p in directory.iterdir()) == [
        "model.json",
        "model.onnx",
        "ood.npz",
        "tokenizer.json",
    ]

    scorer = load_scorer(directory)
    served = scorer.predict_proba(texts)
    assert served.shape == (len(texts), 2)
    agreement = (served.argmax(axis=1) == model.predict_proba(texts).argmax(axis=1)).mean()
    assert agreement >= 0.995 or not served_int8
    # The detector's threshold is the 95th percentile of these validation texts' distances.
    scored = scorer.score(texts)
    assert scored.in_domain.mean() >= 0.9
    np.testing.assert_allclose(scored.probabilities, served)
    fp32 = load_scorer(tmp_path / "work" / "onnx_fp32")
    np.testing.assert_allclose(
        fp32.predict_proba(texts[:4]), model.predict_proba(texts[:4]), atol=1e-4
    )
    # One text alone scores as it does inside a padded batch.
    np.testing.assert_allclose(
        fp32.predict_proba(texts[:1]), fp32.predict_proba(texts[:4])[:1], atol=1e-5
    )


def test_a_disagreeing_export_is_refused(
    minilm: tuple[TrainedTorchClassifier, list[str], np.ndarray], tmp_path: Path
) -> None:
    model, texts, targets = minilm

    def inverted(batch: list[str], contexts: list[str | None] | None) -> np.ndarray:
        return model.predict_proba(batch, contexts)[:, ::-1]

    with pytest.raises(ExportRejected, match="agrees with PyTorch on"):
        export_classifier(
            model.module,
            encoder=model.encoder,
            torch_proba=inverted,
            directory=tmp_path / "model",
            work_dir=tmp_path / "work",
            task="sentiment",
            labels=model.labels,
            config=model.config.export.model_copy(update={"quantize_int8": False}),
            eval_batch_size=32,
            seed=0,
            manifest_extra={},
            validation_texts=texts,
            validation_targets=targets,
            on_step=lambda _m: None,
        )
    assert not (tmp_path / "model").exists()


def test_mixed_precision_keeps_the_fewest_most_sensitive_nodes_in_fp32() -> None:
    # Quantising a node alone flips `alone[node]` of 1,000 predictions; together they add up.
    alone = {"ffn0": 9, "ffn2": 5, "attn1": 2, "emb": 0, "head": 1}

    def flips(keep_fp32: list[str]) -> int:
        return sum(v for n, v in alone.items() if n not in keep_fp32)

    def choose(max_nodes: int, min_agreement: float) -> list[str]:
        return choose_fp32_nodes(
            list(alone),
            flips,
            n_texts=1000,
            max_nodes=max_nodes,
            min_agreement=min_agreement,
            on_step=lambda _m: None,
        )

    assert choose(12, 0.995) == ["ffn0", "ffn2"]  # 17 flips → 3 (99.7 %) after two
    assert choose(12, 0.999) == ["ffn0", "ffn2", "attn1"]  # 1 flip left: exactly the bar
    assert choose(12, 1.0) == ["ffn0", "ffn2", "attn1", "head"]  # 0 flips; "emb" never kept
    assert choose(1, 1.0) == ["ffn0"]  # the bar is out of reach: the caller's check decides
