"""Importing a model pack (inference/packs.py: serving artifacts trained elsewhere, committed
with model cards) into the model registry, on a machine that cannot train them quickly. Import
is idempotent: a model already imported (same content hash) is not registered twice.

The import run carries the card's evaluation metrics, as a training run carries its own: the
promotion gate (tools/compare_models.py) compares a candidate with production's recorded
metrics, and a production version without them would let any candidate through."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Metric

from sentimentops.core.errors import InvalidInput
from sentimentops.core.model_registry import MlflowRegistry, ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.packs import CONTENT_TAG, PackEntry, content_hash, inside, read_manifest
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


def card_metrics(card: Path, entry: PackEntry) -> dict[str, float]:
    """The numeric metrics of a model card (`metrics`: test, per-domain, robustness, export
    checks), plus the manifest's `test_accuracy` where the card has none."""
    try:
        raw = json.loads(card.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"model card {card} is not readable JSON: {exc}") from exc
    found = raw.get("metrics") if isinstance(raw, dict) else None
    metrics = {
        str(name): float(value)
        for name, value in (found.items() if isinstance(found, dict) else [])
        # bool is an int to Python; "served": "fp32" and the like are not metrics.
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }
    if entry.test_accuracy is not None:
        metrics.setdefault("test_accuracy", entry.test_accuracy)
    return metrics


def _log_metrics(registry: MlflowRegistry, run_id: str, metrics: dict[str, float]) -> None:
    now = int(time.time() * 1000)
    registry.client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])


def _backfill_metrics(
    registry: MlflowRegistry, task: str, version: str, metrics: dict[str, float]
) -> None:
    """Packs imported before the import carried the card's metrics get them on the next `up`:
    the gate must not keep comparing against an empty record."""
    run_id = registry.get_version(task, version).run_id
    if run_id is None or not metrics:
        return
    missing = {k: v for k, v in metrics.items() if k not in registry.version_metrics(task, version)}
    if missing:
        _log_metrics(registry, run_id, missing)


def import_pack(settings: Settings, pack: Path, *, tasks: Sequence[str]) -> list[ImportedModel]:
    """Register each model of the pack for `tasks` (alias `candidate`), with its card's
    metrics; already-imported ones are returned with their existing version."""
    manifest = read_manifest(pack)
    registry = service.model_registry(settings)
    client = registry.client  # experiment tracking: the import is a run with the artifact
    imported: list[ImportedModel] = []
    for entry in manifest.models:
        if entry.task not in tasks:
            continue
        artifact = inside(pack, entry.path)
        card = inside(pack, entry.card)
        metrics = card_metrics(card, entry)
        sha = content_hash(artifact)
        existing = _registered_version(registry, entry.task, sha)
        if existing is not None:
            _backfill_metrics(registry, entry.task, existing, metrics)
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
        if metrics:
            _log_metrics(registry, run.info.run_id, metrics)
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
