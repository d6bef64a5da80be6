"""Transformer classifiers exported to ONNX, with their `tokenizer.json`.

Artifact directory (format `sentimentops.onnx_transformer/v1`):
    model.json      {"format", "task", "labels", "onnx_file", "max_length", "head_tokens",
                     "cls_token_id", "sep_token_id", "pad_token_id"}
    <onnx_file>     graph with int64 inputs `input_ids`, `attention_mask` (and optionally
                    `token_type_ids`) of shape [batch, sequence], output logits [batch, labels]
    tokenizer.json  a Hugging Face `tokenizers` file

Long texts are never cut at the front only: when a text has more than `max_length` tokens, the
first `head_tokens` and the last `max_length - 2 - head_tokens` are kept (reviews put their
verdict at the end as often as at the start).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field
from tokenizers import Tokenizer

from sentimentops.inference.runtime.base import FloatArray, occlusion_explain

FORMAT = "sentimentops.onnx_transformer/v1"


class OnnxTransformerSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: str
    task: str
    labels: tuple[str, ...] = Field(min_length=2)
    onnx_file: str = "model.onnx"
    max_length: int = Field(default=512, ge=8, le=8192)
    head_tokens: int = Field(default=128, ge=0)
    cls_token_id: int
    sep_token_id: int
    pad_token_id: int = 0


def head_tail(ids: list[int], budget: int, head: int) -> list[int]:
    """Keep the first `head` and the last `budget - head` ids when there are too many."""
    if len(ids) <= budget:
        return ids
    head = min(head, budget)
    tail = budget - head
    return ids[:head] + (ids[-tail:] if tail else [])


def _softmax(logits: npt.NDArray[np.float32]) -> FloatArray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: FloatArray = e / e.sum(axis=1, keepdims=True)
    return result


def session_options(threads: int | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Small machines: one inter-op thread, intra-op threads = cores (micro-batches already
    # give us parallelism across requests; oversubscribing threads only adds context switches).
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    return options


def providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxTransformer:
    """Scores texts with an ONNX Runtime session; thread-safe (ORT sessions are)."""

    def __init__(self, directory: Path, *, threads: int | None = None) -> None:
        self.spec = OnnxTransformerSpec.model_validate(
            json.loads((directory / "model.json").read_text(encoding="utf-8"))
        )
        if self.spec.format != FORMAT:
            raise ValueError(f"not an {FORMAT} artifact: {self.spec.format}")
        model_path = (directory / self.spec.onnx_file).resolve()
        if directory.resolve() not in model_path.parents:
            raise ValueError("onnx_file must stay inside the artifact directory")
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # Truncation and padding are ours (head+tail, per-batch padding), not the file's: the
        # MiniLM tokenizer.json silently truncates at 128 tokens otherwise.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.session = ort.InferenceSession(
            str(model_path), sess_options=session_options(threads), providers=providers()
        )
        self._input_names = {i.name for i in self.session.get_inputs()}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def encode(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        spec = self.spec
        budget = spec.max_length - 2
        rows = [
            [spec.cls_token_id, *head_tail(e.ids, budget, spec.head_tokens), spec.sep_token_id]
            for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), spec.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return feeds

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        (logits,) = self.session.run(None, self.encode(texts))[:1]
        return _softmax(np.asarray(logits))

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
        return occlusion_explain(self, text, max_tokens=max_tokens)
