"""Importing a model pack (inference/packs.py: serving artifacts trained elsewhere, committed
with model cards) into the model registry, on a machine that cannot train them quickly. Import
is idempotent: a model already imported (same content hash) is not registered twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.packs import CONTENT_TAG, content_hash, inside, read_manifest
from sentimentops.inference.slots import smoke_test
from sentimentops.training import service

EXPERIMENT = "model-packs"


@dataclass(frozen=True)
class ImportedModel:
    task: str
    version: str
    newly_registered: bool


def _registered_version(registry: ModelRegistry, task: str, sha: str) -> str | None:
    found = registry.find_versions(task, tag=(CONTENT_TAG, sha))
    return min((v.version for v in found), key=int) if found else None


def import_pack(settings: Settings, pack: Path, *, tasks: Sequence[str]) -> list[ImportedModel]:
    """Register each model of the pack for `tasks` (alias `candidate`); already-imported ones
    are returned with their existing version."""
    manifest = read_manifest(pack)
    registry = service.model_registry(settings)
    client = registry.client  # experiment tracking: the import is a run with the artifact
    imported: list[ImportedModel] = []
    for entry in manifest.models:
        if entry.task not in tasks:
            continue
        artifact = inside(pack, entry.path)
        card = inside(pack, entry.card)
        sha = content_hash(artifact)
        existing = _registered_version(registry, entry.task, sha)
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
        version = registry.register(
            entry.task,
            source=f"{run.info.artifact_uri}/{service.ARTIFACT_PATH}",
            run_id=run.info.run_id,
            tags={CONTENT_TAG: sha, "sentimentops.family": entry.family, "sentimentops.pack": "1"},
            description=json.dumps({"from_pack": str(pack), "family": entry.family}),
        )
        registry.set_alias(entry.task, CANDIDATE_ALIAS, version.version)
        imported.append(ImportedModel(entry.task, str(version.version), newly_registered=True))
    return imported
