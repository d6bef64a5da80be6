"""Registering serving artifacts in a real MLflow store, the way training does: artifacts logged
to a run, a model version whose source is that run's folder, an alias pointing at it."""

from __future__ import annotations

from pathlib import Path

from sentimentops.core.model_registry import MlflowRegistry


def register(tracking_uri: str, task: str, artifact: Path, alias: str) -> str:
    registry = MlflowRegistry(tracking_uri)
    client = registry.client
    experiment = client.get_experiment_by_name("tests")
    if experiment is None:
        # Artifacts beside the store, never in ./mlruns of whatever directory pytest runs in.
        store = Path(tracking_uri.removeprefix("sqlite:///")).parent
        experiment_id = client.create_experiment(
            "tests", artifact_location=str(store / "artifacts")
        )
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id)
    client.log_artifacts(run.info.run_id, str(artifact), artifact_path="serving")
    client.set_terminated(run.info.run_id)
    source = f"{run.info.artifact_uri}/serving"
    version = registry.register(
        task, source=source, run_id=run.info.run_id, tags={}, description=""
    )
    registry.set_alias(task, alias, version.version)
    return version.version
