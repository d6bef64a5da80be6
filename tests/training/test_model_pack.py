"""Model packs: import into a real MLflow store, first production models on a fresh install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentimentops.app import schema
from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import Settings
from sentimentops.inference.packs import PACK_FORMAT
from sentimentops.training import service
from sentimentops.training.bootstrap import ensure_serving_models
from sentimentops.training.model_pack import import_pack
from tests.inference.factories import make_onnx_artifact


def _pack(root: Path, *, escape: bool = False) -> Path:
    models = []
    for task in ("sentiment", "sarcasm"):
        make_onnx_artifact(root / task / "model", task=task)
        (root / task / "card.json").write_text(json.dumps({"task": task, "seed": 1}))
        path = "../outside" if escape and task == "sarcasm" else f"{task}/model"
        models.append(
            {
                "task": task,
                "family": "minilm",
                "path": path,
                "card": f"{task}/card.json",
                "test_accuracy": 0.9,
            }
        )
    (root / "pack.json").write_text(json.dumps({"format": PACK_FORMAT, "models": models}))
    return root


def _settings(tmp_path: Path, pack: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", model_pack_dir=pack, _env_file=None)
    schema.upgrade(settings.resolved_database_url)
    return settings


def test_fresh_install_serves_the_pack_and_import_is_idempotent(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack"))
    steps: list[str] = []
    promoted = ensure_serving_models(settings, on_step=steps.append)
    assert promoted == {"sentiment": "1", "sarcasm": "1"}
    assert not any("training" in s for s in steps)  # nothing was trained
    client = service.model_registry(settings).client
    assert str(client.get_model_version_by_alias("sarcasm", "production").version) == "1"
    again = import_pack(settings, settings.model_pack_dir, tasks=["sentiment", "sarcasm"])
    assert [(m.version, m.newly_registered) for m in again] == [("1", False), ("1", False)]
    assert len(client.search_model_versions("name = 'sentiment'")) == 1


def test_pack_paths_cannot_leave_the_pack(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack", escape=True))
    with pytest.raises(InvalidInput, match="leaves the pack"):
        import_pack(settings, settings.model_pack_dir, tasks=["sarcasm"])


def test_broken_model_is_not_registered(tmp_path: Path) -> None:
    pack = _pack(tmp_path / "pack")
    (pack / "sentiment" / "model" / "model.onnx").write_bytes(b"not onnx")
    settings = _settings(tmp_path, pack)
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error type
        import_pack(settings, pack, tasks=["sentiment"])
    client = service.model_registry(settings).client
    assert client.search_model_versions("name = 'sentiment'") == []
