"""Texts → padded id matrices exactly as the serving runtime builds them
(inference/runtime/onnx_transformer.py): [CLS] + head+tail-truncated tokens + [SEP], right
padding. Torch-free; the truncation rule is the runtime's own function, not a copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from sentimentops.inference.runtime.onnx_transformer import framed_ids
from sentimentops.inference.text import get_normalizer
from sentimentops.training.config import EncodingConfig

IdMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Encoder:
    """A tokenizer without its own truncation or padding, plus the runtime's framing rule."""

    tokenizer: Tokenizer
    max_length: int
    head_tokens: int
    cls_token_id: int
    sep_token_id: int
    pad_token_id: int
    context_tokens: int = 0
    normalize: str | None = None

    @classmethod
    def create(
        cls,
        tokenizer: Tokenizer,
        encoding: EncodingConfig,
        framing: tuple[str, str, str] = ("[CLS]", "[SEP]", "[PAD]"),
    ) -> Encoder:
        """`framing`: the start, end and padding tokens. Disables the file's truncation and
        padding (MiniLM's truncates at 128 otherwise)."""
        tokenizer.no_truncation()
        tokenizer.no_padding()
        ids = [tokenizer.token_to_id(t) for t in framing]
        cls_id, sep_id, pad_id = ids
        if cls_id is None or sep_id is None or pad_id is None:
            raise ValueError(f"tokenizer lacks one of {', '.join(framing)}")
        return cls(
            tokenizer,
            encoding.max_length,
            encoding.head_tokens,
            cls_id,
            sep_id,
            pad_id,
            encoding.context_tokens,
            encoding.normalize,
        )

    def ids(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> list[list[int]]:
        """Framed, truncated ids per text (unpadded), with its context where given."""
        return framed_ids(
            self.tokenizer,
            get_normalizer(self.normalize),
            texts,
            contexts,
            max_length=self.max_length,
            head_tokens=self.head_tokens,
            context_tokens=self.context_tokens,
            cls_id=self.cls_token_id,
            sep_id=self.sep_token_id,
        )

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[IdMatrix, IdMatrix]:
        """Right-pad to the longest row: (input_ids, attention_mask)."""
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask

    def manifest_fields(self) -> dict[str, int | str | None]:
        """The model.json fields the runtime reads to encode like this."""
        return {
            "context_tokens": self.context_tokens,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "head_tokens": self.head_tokens,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "pad_token_id": self.pad_token_id,
        }

    def save_tokenizer(self, path: Path) -> None:
        """Write tokenizer.json with truncation and padding disabled."""
        self.tokenizer.save(str(path))
