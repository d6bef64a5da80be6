"""PyTorch classifier → ONNX serving artifact (`sentimentops.onnx_transformer/v1`, read by
inference/runtime/onnx_transformer.py), fp32 and dynamic int8 with per-channel weights.

The export is accepted only when the served ONNX model, loaded through the serving loader, gives
the same label as the PyTorch model on at least `min_agreement` of (a seeded sample of) the
validation split; otherwise ExportRejected is raised and the caller registers nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import nn

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime.base import length_sorted, proba_by_length
from sentimentops.inference.runtime.onnx_transformer import FORMAT, OnnxTransformer
from sentimentops.inference.runtime.ood import FILE as OOD_FILE
from sentimentops.inference.runtime.ood import METHOD as OOD_METHOD
from sentimentops.inference.runtime.ood import MahalanobisDetector
from sentimentops.training.calibration import fit_temperature
from sentimentops.training.config import ExportConfig
from sentimentops.training.evaluation import expected_calibration_error
from sentimentops.training.families.base import Export, FloatArray, IntArray, Step
from sentimentops.training.families.encoding import Encoder
from sentimentops.training.families.torch_loop import softmax

ONNX_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask")
WEIGHT_OPS = ("MatMul", "Gemm")  # the weight matrices dynamic quantisation turns into int8


class _QuietQuantizer(logging.Filter):
    """onnxruntime.quantization logs this advice on every call (dozens during the mixed-precision
    search); pre-processing is about static quantisation of vision models, not ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


logging.getLogger().addFilter(_QuietQuantizer())


class ExportRejected(InvalidInput):
    """The ONNX model does not reproduce the PyTorch model closely enough to be served."""


class _WithEmbedding(nn.Module):
    """A classifier whose graph also outputs the pooled embedding its head reads."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pooled: torch.Tensor = self.module.pooled(input_ids, attention_mask)  # type: ignore[operator]
        logits: torch.Tensor = self.module.head(pooled)  # type: ignore[operator]
        return logits, pooled


def export_onnx(module: nn.Module, encoder: Encoder, path: Path, *, opset: int) -> None:
    """Trace `module` (forward(input_ids, attention_mask) → logits) on CPU into `path`, with
    dynamic batch and sequence axes."""
    device = next(module.parameters()).device
    module.cpu().eval()
    # Two rows of different lengths: a padded row in the trace keeps the attention-mask path in
    # the graph (some encoders skip it when every mask value is 1).
    cls_id, sep_id, pad_id = encoder.cls_token_id, encoder.sep_token_id, encoder.pad_token_id
    filler = next(
        i for i in range(encoder.tokenizer.get_vocab_size()) if i not in {cls_id, sep_id, pad_id}
    )
    ids, mask = encoder.pad([[cls_id, *[filler] * 6, sep_id], [cls_id, filler, sep_id]])
    axes = {
        "input_ids": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "sequence"},
        "logits": {0: "batch"},
    }
    outputs = ["logits"]
    traced: nn.Module = module
    if callable(getattr(module, "pooled", None)):
        # The pooled embedding leaves the graph too: the out-of-distribution detector reads it.
        traced = _WithEmbedding(module)
        outputs.append("embedding")
        axes["embedding"] = {0: "batch"}
    with warnings.catch_warnings():
        # The tracer warns about Python branches on shapes; the agreement check below is what
        # proves the graph right for every batch and length.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            traced,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(path),
            input_names=list(INPUTS),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    module.to(device)


def quantize_int8(source: Path, destination: Path, *, keep_fp32: Sequence[str] = ()) -> None:
    """Dynamic int8 quantisation with per-channel weights (per-tensor lost accuracy on MiniLM);
    the nodes named in `keep_fp32` stay in fp32."""
    quantize_dynamic(
        source,
        destination,
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(keep_fp32),
    )


def _weight_nodes(model_path: Path) -> list[str]:
    return [n.name for n in onnx.load(str(model_path)).graph.node if n.op_type in WEIGHT_OPS]


def choose_fp32_nodes(
    nodes: Sequence[str],
    flips: Callable[[list[str]], int],
    *,
    n_texts: int,
    max_nodes: int,
    min_agreement: float,
    on_step: Step,
) -> list[str]:
    """The fewest nodes (at most `max_nodes`) to keep in fp32 so that int8 agrees with fp32 on
    at least `min_agreement` of `n_texts`. `flips(keep_fp32)` quantises all other nodes and
    counts the changed predictions. Each node is first quantised alone and ranked by what it
    flips; then the ranking's shortest prefix that reaches the bar wins (the whole `max_nodes`
    prefix when none does: the caller's check then decides)."""
    cost: dict[str, int] = {}
    for i, node in enumerate(nodes, start=1):
        on_step(f"int8 sensitivity: matrix {i} of {len(nodes)} on {n_texts:,} texts")
        cost[node] = flips([n for n in nodes if n != node])
    ranked = [n for n in sorted(nodes, key=lambda n: -cost[n]) if cost[n] > 0][:max_nodes]
    for k in range(1, len(ranked) + 1):
        if 1.0 - flips(ranked[:k]) / n_texts >= min_agreement:
            return ranked[:k]
    return ranked


def sensitive_nodes(
    fp32_dir: Path,
    pool: list[str],
    *,
    n_texts: int,
    max_nodes: int,
    min_agreement: float,
    batch_size: int,
    on_step: Step,
) -> list[str]:
    """`choose_fp32_nodes` over the weight matrices of the ONNX model in `fp32_dir`, judged on
    the `n_texts` texts of `pool` (training texts) the model is least sure of: quantisation
    flips borderline predictions, and a fitted model is sure of most training texts, so a
    random sample of them ranks nothing (measured: it kept one matrix where twelve were
    needed). Predictions are served exactly as the scoring service serves them."""
    on_step(f"int8 sensitivity: scoring {len(pool):,} training texts to find borderline ones")
    proba = np.sort(_served_proba(fp32_dir, pool, batch_size), axis=1)
    margin = proba[:, -1] - proba[:, -2]
    texts = [pool[i] for i in np.argsort(margin, kind="stable")[:n_texts]]
    reference = _served_proba(fp32_dir, texts, batch_size).argmax(axis=1)
    probe = fp32_dir.parent / "onnx_int8_probe"
    shutil.copytree(fp32_dir, probe, dirs_exist_ok=True)

    def flips(keep_fp32: list[str]) -> int:
        quantize_int8(fp32_dir / ONNX_FILE, probe / ONNX_FILE, keep_fp32=keep_fp32)
        return int((_served_proba(probe, texts, batch_size).argmax(axis=1) != reference).sum())

    return choose_fp32_nodes(
        _weight_nodes(fp32_dir / ONNX_FILE),
        flips,
        n_texts=len(texts),
        max_nodes=max_nodes,
        min_agreement=min_agreement,
        on_step=on_step,
    )


def write_artifact(
    directory: Path,
    *,
    onnx_path: Path,
    encoder: Encoder,
    task: str,
    labels: tuple[str, ...],
    extra: dict[str, object],
) -> None:
    """Lay out a serving artifact directory around an ONNX file."""
    directory.mkdir(parents=True, exist_ok=True)
    if onnx_path != directory / ONNX_FILE:
        shutil.copyfile(onnx_path, directory / ONNX_FILE)
    encoder.save_tokenizer(directory / "tokenizer.json")
    manifest = {
        "format": FORMAT,
        "task": task,
        "labels": list(labels),
        "onnx_file": ONNX_FILE,
        **encoder.manifest_fields(),
        **extra,
    }
    (directory / "model.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _served_proba(
    directory: Path,
    texts: list[str],
    batch_size: int,
    contexts: Sequence[str | None] | None = None,
) -> FloatArray:
    scorer = load_scorer(directory, threads=os.cpu_count())
    return proba_by_length(scorer, texts, contexts, batch_size)


@dataclass(frozen=True)
class DomainSample:
    """Training texts (unaugmented) with their targets: what "in domain" means for a model."""

    texts: list[str]
    contexts: list[str | None] | None
    targets: IntArray


@dataclass(frozen=True)
class _Fitted:
    manifest: dict[str, object]
    metrics: dict[str, float]
    embeddings: npt.NDArray[np.float32] | None = None


def _raw_outputs(
    directory: Path,
    texts: Sequence[str],
    contexts: Sequence[str | None] | None,
    batch_size: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
    """Uncalibrated logits and embeddings (when the graph has them) of the served artifact."""
    scorer = OnnxTransformer(directory, threads=os.cpu_count())
    logits: list[npt.NDArray[np.float32]] = []
    embeddings: list[npt.NDArray[np.float32]] = []
    order: list[int] = []
    for chunk, batch, given in length_sorted(texts, contexts, batch_size):
        part_logits, part_embedding = scorer.run(batch, given)
        logits.append(part_logits)
        order.extend(chunk)
        if part_embedding is not None:
            embeddings.append(part_embedding)
    inverse = np.argsort(order)
    all_logits = np.concatenate(logits)[inverse]
    return all_logits, (np.concatenate(embeddings)[inverse] if embeddings else None)


def calibrate(
    directory: Path,
    texts: Sequence[str],
    contexts: Sequence[str | None] | None,
    targets: IntArray,
    batch_size: int,
) -> _Fitted:
    """Temperature scaling (Guo et al., 2017) of the served artifact on validation texts: the
    one temperature that minimises their negative log-likelihood. It divides the logits and so
    never changes a predicted label, only how sure the answer says it is."""
    logits, embeddings = _raw_outputs(directory, texts, contexts, batch_size)
    temperature = fit_temperature(logits.astype(np.float64), targets)
    before = expected_calibration_error(softmax(logits), targets)
    after = expected_calibration_error(softmax(logits / temperature), targets)
    return _Fitted(
        {"temperature": temperature},
        {
            "calibration_temperature": temperature,
            "calibration_ece_before": before,
            "calibration_ece_after": after,
        },
        embeddings,
    )


# The share of in-domain validation texts called in domain (the detector's threshold).
OOD_QUANTILE = 0.95


def fit_detector(
    directory: Path,
    sample: DomainSample,
    *,
    validation: npt.NDArray[np.float32],
    batch_size: int,
) -> _Fitted:
    """Fit the Mahalanobis detector on training embeddings and set its threshold on the
    validation embeddings (inference/runtime/ood.py); writes ood.npz into the artifact."""
    _logits, embeddings = _raw_outputs(directory, sample.texts, sample.contexts, batch_size)
    if embeddings is None:
        raise ExportRejected("the served graph has no embedding output for the detector")
    n_labels = int(max(sample.targets.max(), 0)) + 1
    detector = MahalanobisDetector.fit(embeddings, sample.targets, n_labels).with_threshold(
        validation, OOD_QUANTILE
    )
    detector.save(directory)
    spec = {
        "method": OOD_METHOD,
        "file": OOD_FILE,
        "threshold": detector.threshold,
        "quantile": OOD_QUANTILE,
    }
    return _Fitted(
        {"ood": spec},
        {"ood_threshold": detector.threshold, "ood_fit_texts": float(len(sample.texts))},
    )


def export_classifier(
    module: nn.Module,
    *,
    encoder: Encoder,
    torch_proba: Callable[[list[str], list[str | None] | None], FloatArray],
    directory: Path,
    work_dir: Path,
    task: str,
    labels: tuple[str, ...],
    config: ExportConfig,
    eval_batch_size: int,
    seed: int,
    manifest_extra: dict[str, object],
    validation_texts: list[str],
    validation_targets: IntArray,
    on_step: Step,
    calibration_texts: Sequence[str] = (),
    validation_contexts: Sequence[str | None] | None = None,
    domain_sample: DomainSample | None = None,
) -> Export:
    """Export fp32 (and int8), check agreement with PyTorch, write the served artifact to
    `directory`. Raises ExportRejected when no ONNX model agrees well enough. When plain int8
    falls short and the config allows it, the most quantisation-sensitive weight matrices
    (ranked on the least sure of `calibration_texts`, training texts) stay in fp32 and int8 is
    checked again on the validation texts."""
    if not validation_texts:
        raise ExportRejected("the export check needs validation texts")
    rng = np.random.default_rng(seed)
    sample = np.arange(len(validation_texts))
    if config.agreement_samples < len(sample):
        sample = np.sort(rng.choice(sample, size=config.agreement_samples, replace=False))
    texts = [validation_texts[i] for i in sample]
    contexts = [validation_contexts[int(i)] for i in sample] if validation_contexts else None
    targets = validation_targets[sample]
    on_step(f"export check: PyTorch predictions on {len(texts):,} validation texts")
    reference = torch_proba(texts, contexts).argmax(axis=1)

    fp32_dir, int8_dir = work_dir / "onnx_fp32", work_dir / "onnx_int8"
    fp32_dir.mkdir(parents=True, exist_ok=True)
    on_step("exporting to ONNX (fp32)")
    export_onnx(module, encoder, fp32_dir / ONNX_FILE, opset=config.opset)
    write_artifact(
        fp32_dir,
        onnx_path=fp32_dir / ONNX_FILE,
        encoder=encoder,
        task=task,
        labels=labels,
        extra={**manifest_extra, "quantization": "none"},
    )
    fp32 = _served_proba(fp32_dir, texts, eval_batch_size, contexts).argmax(axis=1)
    metrics = {
        "export_agreement_samples": float(len(texts)),
        "export_agreement_fp32": float((fp32 == reference).mean()),
        "export_accuracy_torch": float((reference == targets).mean()),
        "export_accuracy_fp32": float((fp32 == targets).mean()),
    }
    if metrics["export_agreement_fp32"] < config.min_agreement:
        raise ExportRejected(
            f"ONNX fp32 agrees with PyTorch on {metrics['export_agreement_fp32']:.2%} of "
            f"{len(texts)} validation texts; at least {config.min_agreement:.2%} is required"
        )
    served = fp32_dir
    extra: dict[str, Path] = {}
    if config.quantize_int8:
        on_step("quantising to int8 (dynamic, per-channel)")
        int8_dir.mkdir(parents=True, exist_ok=True)

        def int8_agreement(keep_fp32: Sequence[str]) -> None:
            quantize_int8(fp32_dir / ONNX_FILE, int8_dir / ONNX_FILE, keep_fp32=keep_fp32)
            quantization = "int8-dynamic-per-channel"
            if keep_fp32:
                quantization += f" ({len(keep_fp32)} weight matrices kept in fp32)"
            write_artifact(
                int8_dir,
                onnx_path=int8_dir / ONNX_FILE,
                encoder=encoder,
                task=task,
                labels=labels,
                extra={
                    **manifest_extra,
                    "quantization": quantization,
                    "int8_fp32_nodes": list(keep_fp32),
                },
            )
            int8 = _served_proba(int8_dir, texts, eval_batch_size, contexts).argmax(axis=1)
            metrics["export_agreement_int8"] = float((int8 == reference).mean())
            metrics["export_accuracy_int8"] = float((int8 == targets).mean())
            metrics["export_int8_minus_fp32_accuracy"] = (
                metrics["export_accuracy_int8"] - metrics["export_accuracy_fp32"]
            )
            metrics["export_int8_fp32_nodes"] = float(len(keep_fp32))

        int8_agreement(())
        short = metrics["export_agreement_int8"] < config.min_agreement
        search = config.int8_max_fp32_nodes and config.int8_calibration_samples
        if short and search and calibration_texts:
            on_step(
                f"int8 agrees on {metrics['export_agreement_int8']:.2%}: ranking weight "
                "matrices by their sensitivity to quantisation"
            )
            keep = sensitive_nodes(
                fp32_dir,
                list(calibration_texts),
                n_texts=config.int8_calibration_samples,
                max_nodes=config.int8_max_fp32_nodes,
                min_agreement=config.min_agreement,
                batch_size=eval_batch_size,
                on_step=on_step,
            )
            metrics["export_agreement_int8_plain"] = metrics["export_agreement_int8"]
            int8_agreement(keep)
        if metrics["export_agreement_int8"] >= config.min_agreement:
            served = int8_dir
            extra["model_fp32"] = fp32_dir
        else:
            on_step(f"int8 agrees on only {metrics['export_agreement_int8']:.2%}: serving fp32")
            extra["model_int8_rejected"] = int8_dir
    metrics["export_served_int8"] = float(served == int8_dir)
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(served, directory)
    manifest_path = directory / "model.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    on_step(f"calibrating on {len(texts):,} validation texts")
    calibration = calibrate(directory, texts, contexts, targets, eval_batch_size)
    manifest.update(calibration.manifest)
    metrics.update(calibration.metrics)
    if domain_sample is not None and calibration.embeddings is not None:
        on_step(f"fitting the out-of-distribution detector on {len(domain_sample.texts):,} texts")
        ood = fit_detector(
            directory,
            domain_sample,
            validation=calibration.embeddings,
            batch_size=eval_batch_size,
        )
        manifest.update(ood.manifest)
        metrics.update(ood.metrics)
    manifest["export_check"] = metrics
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    # Evaluation runs in the training process: use every core, unlike a serving replica.
    scorer = load_scorer(directory, threads=os.cpu_count())

    def serving_proba(
        batch: list[str], batch_contexts: list[str | None] | None = None
    ) -> FloatArray:
        return proba_by_length(scorer, batch, batch_contexts, eval_batch_size)

    return Export(predict_proba=serving_proba, metrics=metrics, extra_artifacts=extra)
