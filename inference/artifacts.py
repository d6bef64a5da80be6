"""Loading a serving artifact directory into a runtime, by the format its model.json declares.
Only documented, pickle-free formats are accepted."""

from __future__ import annotations

import json
from pathlib import Path

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime import onnx_transformer, routed
from sentimentops.inference.runtime.base import Scorer

MAX_MODEL_JSON_BYTES = 1_000_000


def read_manifest(directory: Path) -> dict[str, object]:
    path = directory / "model.json"
    if not path.is_file():
        raise InvalidInput(f"{directory} is not a serving artifact (no model.json)")
    if path.stat().st_size > MAX_MODEL_JSON_BYTES:
        raise InvalidInput("model.json is implausibly large")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"model.json is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), str):
        raise InvalidInput("model.json has no format")
    return manifest


def _load_component(directory: Path, threads: int | None) -> Scorer:
    return load_scorer(directory, threads=threads)


def load_scorer(directory: Path, *, threads: int | None = None) -> Scorer:
    fmt = str(read_manifest(directory)["format"])
    if fmt == onnx_transformer.FORMAT:
        return onnx_transformer.OnnxTransformer(directory, threads=threads)
    if fmt == routed.FORMAT:
        try:
            return routed.RoutedModel.load(
                directory, threads=threads, load_component=_load_component
            )
        except (ValueError, OSError) as exc:
            raise InvalidInput(f"routed artifact {directory.name} is malformed: {exc}") from exc
    if fmt.startswith("sentimentops.tfidf_lr/"):
        from sentimentops.inference.runtime.linear import LinearModel

        linear: Scorer = LinearModel.load(directory)
        return linear
    raise InvalidInput(f"unknown serving artifact format {fmt!r}")
