"""Model packs on disk: reading them, and serving one without a registry.

Layout (format `sentimentops.model_pack/v1`, written by benchmarks/minilm_gpu.py):
    pack.json                 {"format", "created_at", "models": [{"task", "family", "path",
                               "card", "test_accuracy"}]}
    <task>/model/             a serving artifact directory (model.json, ONNX file, tokenizer.json)
    <task>/card.json          metrics, data hashes, command, seed

`up` imports the committed pack into the model registry (training/model_pack.py). A
scoring-only install has no MLflow: with `SENTIMENTOPS_SERVING_MODEL_PACK=DIR` the API serves
the pack's models as `production` through `PackRegistry`, a read-only `ModelRegistry`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.model_registry import ModelVersion

PACK_FORMAT = "sentimentops.model_pack/v1"
CONTENT_TAG = "sentimentops.pack_content_sha256"
PACK_ALIAS = "production"


class PackEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task: str
    family: str
    path: str
    card: str
    test_accuracy: float | None = None


class PackManifest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: str
    models: list[PackEntry] = Field(min_length=1)


def inside(root: Path, relative: str) -> Path:
    """`root/relative`, refusing a path that leaves the pack."""
    path = (root / relative).resolve()
    if root.resolve() not in path.parents:
        raise InvalidInput(f"model pack path {relative!r} leaves the pack")
    return path


def content_hash(directory: Path) -> str:
    """SHA-256 over the artifact's file names and bytes, in name order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(file.relative_to(directory).as_posix().encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def read_manifest(pack: Path) -> PackManifest:
    try:
        manifest = PackManifest.model_validate_json((pack / "pack.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{pack / 'pack.json'} is not a readable model pack: {exc}") from exc
    if manifest.format != PACK_FORMAT:
        raise InvalidInput(f"unknown model pack format {manifest.format!r}")
    return manifest


class PackRegistry:
    """A read-only `ModelRegistry` over a model pack directory: each task's model is its one
    version, behind the alias `production`; the version is the first 12 hex digits of the
    artifact's content hash, so a changed pack is a new version for the watcher."""

    def __init__(self, pack: Path) -> None:
        self._pack = pack
        read_manifest(pack)  # a broken pack fails at start-up, not at the first poll
        self._hashed: dict[str, ModelVersion] | None = None

    @property
    def _versions(self) -> dict[str, ModelVersion]:
        # Hashing reads every artifact (hundreds of MB): done once, on the watcher's first poll
        # (a worker thread), not while the app is being built.
        if self._hashed is None:
            hashed = {}
            for entry in read_manifest(self._pack).models:
                artifact = inside(self._pack, entry.path)
                sha = content_hash(artifact)
                hashed[entry.task] = ModelVersion(
                    name=entry.task,
                    version=sha[:12],
                    source=str(artifact),
                    tags={CONTENT_TAG: sha, "sentimentops.family": entry.family},
                )
            self._hashed = hashed
        return self._hashed

    def version_for_alias(self, name: str, alias: str) -> ModelVersion | None:
        return self._versions.get(name) if alias == PACK_ALIAS else None

    def get_version(self, name: str, version: str) -> ModelVersion:
        found = self._versions.get(name)
        if found is None or found.version != version:
            raise NotFound(f"{name} has no version {version} in the pack {self._pack}")
        return found

    def find_versions(self, name: str, *, tag: tuple[str, str] | None = None) -> list[ModelVersion]:
        found = self._versions.get(name)
        if found is None or (tag is not None and found.tags.get(tag[0]) != tag[1]):
            return []
        return [found]

    def version_metrics(self, name: str, version: str) -> dict[str, float]:
        self.get_version(name, version)
        return {}

    def _read_only(self) -> InvalidInput:
        return InvalidInput(f"the model pack {self._pack} is read-only: use the MLflow registry")

    def set_alias(self, name: str, alias: str, version: str) -> None:
        raise self._read_only()

    def delete_alias(self, name: str, alias: str) -> None:
        raise self._read_only()

    def delete_version(self, name: str, version: str) -> None:
        raise self._read_only()

    def register(
        self, name: str, *, source: str, run_id: str | None, tags: dict[str, str], description: str
    ) -> ModelVersion:
        raise self._read_only()

    def download(self, version: ModelVersion, destination: Path) -> Path:
        target = destination / "model"
        shutil.copytree(version.source, target)
        return target
