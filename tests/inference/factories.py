"""Small but real serving artifacts for tests: an ONNX graph run by ONNX Runtime and a real
`tokenizers` tokenizer, with known behaviour (positive words push one way, negative the other).

The logits of a text are `strength` x (negative words, positive words) summed over every token
the graph sees, context included; `embedding=True` adds an `embedding` output (the same two
numbers) for the out-of-distribution detector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from sentimentops.inference.runtime.onnx_transformer import FORMAT

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
POSITIVE = ["good", "great", "wonderful", "love", "moving"]
NEGATIVE = ["bad", "awful", "worst", "hate", "boring"]
NEUTRAL = [
    "the",
    "a",
    "film",
    "book",
    "is",
    "was",
    "it",
    "i",
    "this",
    "ok",
    "read",
    "have",
    "ever",
    "thing",
    "and",
    "but",
    "end",
]


def make_onnx_artifact(
    directory: Path,
    *,
    task: str = "sentiment",
    strength: float = 2.0,
    max_length: int = 512,
    embedding: bool = False,
    **manifest: Any,
) -> Path:
    """The artifact in `directory`; `manifest` adds or overrides model.json fields."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab_words = SPECIALS + POSITIVE + NEGATIVE + NEUTRAL
    vocab = {w: i for i, w in enumerate(vocab_words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))

    table = np.zeros((len(vocab_words), 2), dtype=np.float32)
    for w in POSITIVE:
        table[vocab[w]] = [0.0, strength]
    for w in NEGATIVE:
        table[vocab[w]] = [strength, 0.0]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["emb"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["logits"], keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])]
    if embedding:
        nodes.append(helper.make_node("Identity", ["logits"], ["embedding"]))
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 2]))
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        outputs,
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))
    (directory / "model.json").write_text(
        json.dumps(
            {
                "format": FORMAT,
                "task": task,
                "labels": ["negative", "positive"],
                "onnx_file": "model.onnx",
                "max_length": max_length,
                "head_tokens": 4,
                "cls_token_id": vocab["[CLS]"],
                "sep_token_id": vocab["[SEP]"],
                "pad_token_id": vocab["[PAD]"],
                **manifest,
            }
        )
    )
    return directory


def edit_manifest(directory: Path, **fields: Any) -> Path:
    """Change model.json fields of an existing artifact (None removes a field)."""
    path = directory / "model.json"
    manifest = json.loads(path.read_text())
    for key, value in fields.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest))
    return directory


def token_id(word: str) -> int:
    """The id of a word (or special token) in the factory's vocabulary."""
    return (SPECIALS + POSITIVE + NEGATIVE + NEUTRAL).index(word)


# The components of `make_routed_artifact`, each with its own strength so that a probability
# tells which one answered.
ROUTED_STRENGTHS = {"general": 2.0, "long_reviews": 5.0, "multilingual": 1.0}
ROUTED_MIN_WORDS = 12


def routed_manifest(**changes: Any) -> dict[str, Any]:
    """A routed model.json (without `format`): long texts and non-English text routed."""
    manifest: dict[str, Any] = {
        "task": "sentiment",
        "labels": ["negative", "positive"],
        "default": "general",
        "components": {name: name for name in ROUTED_STRENGTHS},
        "long_texts": {"component": "long_reviews", "min_words": ROUTED_MIN_WORDS},
        "languages": {
            "detector": "lingua",
            "candidates": ["en", "es", "de"],
            "keep": ["en"],
            "min_confidence": 0.5,
            "component": "multilingual",
        },
    }
    manifest.update(changes)
    return manifest


def make_routed_artifact(directory: Path, **changes: Any) -> Path:
    """A `sentimentops.routed/v1` artifact of three real ONNX components."""
    from sentimentops.inference.runtime import routed

    for name, strength in ROUTED_STRENGTHS.items():
        make_onnx_artifact(directory / name, strength=strength)
    routed.write_manifest(directory, routed_manifest(**changes))
    return directory
