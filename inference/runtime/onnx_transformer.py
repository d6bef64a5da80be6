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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field
from tokenizers import Tokenizer

from sentimentops.inference.runtime.base import (
    Contexts,
    FloatArray,
    Scored,
    occlusion_explain,
)
from sentimentops.inference.runtime.ood import FILE as OOD_FILE
from sentimentops.inference.runtime.ood import METHOD as OOD_METHOD
from sentimentops.inference.runtime.ood import MahalanobisDetector
from sentimentops.inference.text import get_normalizer

FORMAT = "sentimentops.onnx_transformer/v1"


class OodSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    method: str
    file: str
    threshold: float
    quantile: float


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
    # Tokens of a request's context (the previous turn) after the text; 0: contexts ignored.
    context_tokens: int = Field(default=0, ge=0)
    # The normaliser the model was trained with (inference/text.py); None: none.
    normalize: str | None = None
    # Calibration: logits are divided by it before the softmax (fitted on validation data).
    temperature: float = Field(default=1.0, gt=0.0)
    # Out-of-distribution detector over the graph's `embedding` output (inference/runtime/ood.py).
    ood: OodSpec | None = None


def head_tail(ids: list[int], budget: int, head: int) -> list[int]:
    """Keep the first `head` and the last `budget - head` ids when there are too many."""
    if len(ids) <= budget:
        return ids
    head = min(head, budget)
    tail = budget - head
    return ids[:head] + (ids[-tail:] if tail else [])


def frame(
    text_ids: list[int],
    context_ids: list[int] | None,
    *,
    max_length: int,
    head_tokens: int,
    context_tokens: int,
    cls_id: int,
    sep_id: int,
) -> list[int]:
    """[CLS] text [SEP], or [CLS] text [SEP] context [SEP] when a context is given and the
    model reads contexts. The context keeps its last `context_tokens` tokens (the words nearest
    the reply); the text keeps its head and tail within what is left."""
    context = context_ids[-context_tokens:] if context_ids and context_tokens else []
    if not context:
        return [cls_id, *head_tail(text_ids, max_length - 2, head_tokens), sep_id]
    budget = max_length - 3 - len(context)
    text = head_tail(text_ids, budget, min(head_tokens, budget))
    return [cls_id, *text, sep_id, *context, sep_id]


def framed_ids(
    tokenizer: Tokenizer,
    normalize: Callable[[str], str],
    texts: Sequence[str],
    contexts: Sequence[str | None] | None,
    *,
    max_length: int,
    head_tokens: int,
    context_tokens: int,
    cls_id: int,
    sep_id: int,
) -> list[list[int]]:
    """Normalised, tokenised and framed ids of each text with its context (unpadded): the one
    encoding rule of training (training/families/encoding.py) and serving."""
    encoded = tokenizer.encode_batch([normalize(t) for t in texts], add_special_tokens=False)
    context_ids: list[list[int] | None] = [None] * len(encoded)
    if contexts is not None and context_tokens:
        given = [i for i, c in enumerate(contexts) if c]
        if given:
            batch = tokenizer.encode_batch(
                [normalize(str(contexts[i])) for i in given], add_special_tokens=False
            )
            for i, e in zip(given, batch, strict=True):
                context_ids[i] = e.ids
    return [
        frame(
            e.ids,
            c,
            max_length=max_length,
            head_tokens=head_tokens,
            context_tokens=context_tokens,
            cls_id=cls_id,
            sep_id=sep_id,
        )
        for e, c in zip(encoded, context_ids, strict=True)
    ]


def _softmax(logits: npt.NDArray[np.float32], temperature: float = 1.0) -> FloatArray:
    z = logits.astype(np.float64) / temperature
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
    # No spin-waiting between runs: by default ORT's pool threads keep their cores busy after
    # each run, which on a small machine takes them from the event loop, the batcher and the
    # prediction log. Measured on 2 cores under load: twice the throughput without spinning
    # (docs/scoring.md, "Where the time goes").
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
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
        try:
            self._normalize = get_normalizer(self.spec.normalize)
        except KeyError as exc:
            raise ValueError(f"unknown text normaliser {self.spec.normalize!r}") from exc
        outputs = {o.name for o in self.session.get_outputs()}
        self._detector: MahalanobisDetector | None = None
        if self.spec.ood is not None:
            if self.spec.ood.method != OOD_METHOD or self.spec.ood.file != OOD_FILE:
                raise ValueError(f"unknown out-of-distribution detector {self.spec.ood.method!r}")
            if "embedding" not in outputs:
                raise ValueError("model.json names a detector but the graph has no embedding")
            self._detector = MahalanobisDetector.load(directory, self.spec.ood.threshold)
        self._outputs = ["logits", "embedding"] if "embedding" in outputs else ["logits"]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def encode(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> dict[str, npt.NDArray[np.int64]]:
        spec = self.spec
        rows = framed_ids(
            self.tokenizer,
            self._normalize,
            texts,
            contexts,
            max_length=spec.max_length,
            head_tokens=spec.head_tokens,
            context_tokens=spec.context_tokens,
            cls_id=spec.cls_token_id,
            sep_id=spec.sep_token_id,
        )
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

    def run(
        self, texts: Sequence[str], contexts: Contexts = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """Raw logits and, when the graph has one, the pooled embedding of each text."""
        outputs = self.session.run(self._outputs, self.encode(texts, contexts))
        logits = np.asarray(outputs[0])
        return logits, (np.asarray(outputs[1]) if len(outputs) > 1 else None)

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        logits, _embedding = self.run(texts, contexts)
        return _softmax(logits, self.spec.temperature)

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored:
        if not texts:
            return Scored.concat([], len(self.labels))
        logits, embedding = self.run(texts, contexts)
        if self._detector is not None and embedding is not None:
            in_domain = self._detector.in_domain(embedding)
        else:
            in_domain = np.ones(len(texts), dtype=bool)
        probabilities = _softmax(logits, self.spec.temperature)
        return Scored.single(probabilities, in_domain)

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
        return occlusion_explain(self, text, max_tokens=max_tokens)
