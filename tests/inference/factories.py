"""Small but real serving artifacts for tests: an ONNX graph run by ONNX Runtime and a real
`tokenizers` tokenizer, with known behaviour (positive words push one way, negative the other)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from sentimentops.inference.runtime.onnx_transformer import FORMAT

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
POSITIVE = ["good", "great", "wonderful", "love", "moving"]
NEGATIVE = ["bad", "awful", "worst", "hate", "boring"]
NEUTRAL = ["the", "a", "film", "book", "is", "was", "it", "i", "this", "ok", "read", "have",
           "ever", "thing", "and", "but", "end"]  # fmt: skip


def make_onnx_artifact(
    directory: Path, *, task: str = "sentiment", strength: float = 2.0, max_length: int = 512
) -> Path:
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
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["emb"]),
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
            helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "axis1"], ["logits"], keepdims=0),
        ],
        "tiny_classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
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
            }
        )
    )
    return directory
