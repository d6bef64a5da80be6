"""Model packs: serving artifacts trained elsewhere (a GPU machine), committed with model cards,
and imported into the MLflow registry on a machine that cannot train them quickly.

Layout (format `sentimentops.model_pack/v1`, written by benchmarks/minilm_gpu.py):
    pack.json                 {"format", "created_at", "models": [{"task", "family", "path",
                               "card", "test_accuracy"}]}
    <task>/model/             a serving artifact directory (model.json, ONNX file, tokenizer.json)
    <task>/card.json          metrics, data hashes, command, seed
Import is idempotent: a model already imported (same content hash) is not registered twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import Settings
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.slots import smoke_test
from sentimentops.training import service

PACK_FORMAT = "sentimentops.model_pack/v1"
CONTENT_TAG = "sentimentops.pack_content_sha256"
EXPERIMENT = "model-packs"


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


@dataclass(frozen=True)
class ImportedModel:
    task: str
    version: str
    newly_registered: bool


def _inside(root: Path, relative: str) -> Path:
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


def _registered_version(client: MlflowClient, task: str, sha: str) -> str | None:
    for version in client.search_model_versions(f"name = '{task}'"):
        if (version.tags or {}).get(CONTENT_TAG) == sha:
            return str(version.version)
    return None


def import_pack(settings: Settings, pack: Path, *, tasks: Sequence[str]) -> list[ImportedModel]:
    """Register each model of the pack for `tasks` (alias `candidate`); already-imported ones
    are returned with their existing version."""
    manifest = read_manifest(pack)
    client = service.mlflow_client(settings)
    imported: list[ImportedModel] = []
    for entry in manifest.models:
        if entry.task not in tasks:
            continue
        artifact = _inside(pack, entry.path)
        card = _inside(pack, entry.card)
        sha = content_hash(artifact)
        existing = _registered_version(client, entry.task, sha)
        if existing is not None:
            imported.append(ImportedModel(entry.task, existing, newly_registered=False))
            continue
        # The artifact must load and produce probabilities before it enters the registry.
        smoke_test(load_scorer(artifact))
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(
                EXPERIMENT, artifact_location=str(settings.mlflow_dir / "artifacts" / EXPERIMENT)
            )
        )
        run = client.create_run(experiment_id, run_name=f"pack-{entry.family}-{entry.task}")
        client.log_artifacts(run.info.run_id, str(artifact), service.ARTIFACT_PATH)
        client.log_artifact(run.info.run_id, str(card), "card")
        if entry.test_accuracy is not None:
            client.log_metric(run.info.run_id, "test_accuracy", entry.test_accuracy)
        client.set_terminated(run.info.run_id)
        try:
            client.get_registered_model(entry.task)
        except MlflowException:
            client.create_registered_model(entry.task)
        version = client.create_model_version(
            name=entry.task,
            source=f"{run.info.artifact_uri}/{service.ARTIFACT_PATH}",
            run_id=run.info.run_id,
            tags={CONTENT_TAG: sha, "sentimentops.family": entry.family, "sentimentops.pack": "1"},
            description=json.dumps({"from_pack": str(pack), "family": entry.family}),
        )
        client.set_registered_model_alias(entry.task, service.CANDIDATE_ALIAS, version.version)
        imported.append(ImportedModel(entry.task, str(version.version), newly_registered=True))
    return imported
