"""Registering serving artifacts in a real MLflow store, the way training does: artifacts logged
to a run, a model version whose source is that run's folder, an alias pointing at it."""

from __future__ import annotations

from pathlib import Path

import mlflow.exceptions
from mlflow.tracking import MlflowClient


def register(tracking_uri: str, task: str, artifact: Path, alias: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri)
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
    try:
        client.get_registered_model(task)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(task)
    version = client.create_model_version(
        name=task, source=f"{run.info.artifact_uri}/serving", run_id=run.info.run_id
    )
    client.set_registered_model_alias(task, alias, version.version)
    return str(version.version)
