"""Reading the MLflow registry for the tools: versions by alias, and a version's metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentimentops.core.errors import NotFound

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def version_for_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def resolve_version(client: MlflowClient, name: str, version: str | None, alias: str) -> str:
    """`version` if given (and it exists), else the version behind `alias`."""
    from mlflow.exceptions import MlflowException

    if version is None:
        found = version_for_alias(client, name, alias)
        if found is None:
            raise NotFound(f"{name} has no version with the alias {alias!r}")
        return found
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise NotFound(f"{name} has no version {version}") from exc
    return version


def version_metrics(client: MlflowClient, name: str, version: str) -> dict[str, float]:
    """The metrics training logged for the run that produced `version`."""
    model_version = client.get_model_version(name, version)
    if not model_version.run_id:
        return {}
    return {k: float(v) for k, v in client.get_run(model_version.run_id).data.metrics.items()}
