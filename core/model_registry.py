"""The model registry seam: one protocol for model versions, aliases, tags and artifacts, and
its MLflow adapter. Training registers versions, the tools move aliases and read metrics, the
model pack imports, and the serving watcher resolves aliases and downloads artifacts — all
through `ModelRegistry`; no other module builds an MLflow client. Tests and scoring-only
installs swap in another implementation (inference.packs.PackRegistry) through constructor
arguments, never by patching imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sentimentops.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class ModelVersion:
    name: str  # the registered model: a task ("sentiment", "sarcasm")
    version: str
    source: str  # artifact URI of the serving directory
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class ModelRegistry(Protocol):
    def version_for_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version behind `alias`; None when the model or the alias does not exist."""
        ...

    def get_version(self, name: str, version: str) -> ModelVersion:
        """The version (NotFound when it does not exist)."""
        ...

    def find_versions(self, name: str, *, tag: tuple[str, str] | None = None) -> list[ModelVersion]:
        """The model's versions, those carrying the tag `(key, value)` when one is given."""
        ...

    def version_metrics(self, name: str, version: str) -> dict[str, float]:
        """The metrics logged by the run that produced the version ({} without a run)."""
        ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_alias(self, name: str, alias: str) -> None: ...

    def delete_version(self, name: str, version: str) -> None: ...

    def register(
        self, name: str, *, source: str, run_id: str | None, tags: dict[str, str], description: str
    ) -> ModelVersion:
        """A new version of `name` (the registered model is created on first use)."""
        ...

    def download(self, version: ModelVersion, destination: Path) -> Path:
        """The version's artifact directory, copied under `destination`."""
        ...


class MlflowRegistry:
    """`ModelRegistry` on MLflow (its SQLite store by default, an MLflow server at scale).

    The client is made on first use: importing MLflow takes seconds and must not delay the API's
    start-up or a CLI command that never touches the registry. With `read_only`, an embedded
    SQLite store that does not exist yet is treated as empty instead of being created (the
    scoring service only reads; training creates the store when it registers a model)."""

    def __init__(self, tracking_uri: str, *, read_only: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self._read_only = read_only
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        """The MLflow client, for experiment tracking (runs, params, metrics) by training."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client

    def _store_missing(self) -> bool:
        if self._read_only and self.tracking_uri.startswith("sqlite:///"):
            return not Path(self.tracking_uri.removeprefix("sqlite:///")).is_file()
        return False

    @staticmethod
    def _of(raw: Any) -> ModelVersion:
        return ModelVersion(
            name=str(raw.name),
            version=str(raw.version),
            source=str(raw.source or ""),
            run_id=str(raw.run_id) if raw.run_id else None,
            tags={str(k): str(v) for k, v in (raw.tags or {}).items()},
        )

    def version_for_alias(self, name: str, alias: str) -> ModelVersion | None:
        if self._store_missing():
            return None
        from mlflow.exceptions import MlflowException

        try:
            return self._of(self.client.get_model_version_by_alias(name, alias))
        except MlflowException:
            return None

    def get_version(self, name: str, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            return self._of(self.client.get_model_version(name, version))
        except MlflowException as exc:
            raise NotFound(f"{name} has no version {version}") from exc

    def find_versions(self, name: str, *, tag: tuple[str, str] | None = None) -> list[ModelVersion]:
        if self._store_missing():
            return []
        query = f"name = '{_quoted(name)}'"
        if tag is not None:
            query += f" and tags.`{_quoted(tag[0])}` = '{_quoted(tag[1])}'"
        return [self._of(v) for v in self.client.search_model_versions(query)]

    def version_metrics(self, name: str, version: str) -> dict[str, float]:
        found = self.get_version(name, version)
        if found.run_id is None:
            return {}
        metrics = self.client.get_run(found.run_id).data.metrics
        return {k: float(v) for k, v in metrics.items()}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    def delete_version(self, name: str, version: str) -> None:
        self.client.delete_model_version(name, version)

    def register(
        self, name: str, *, source: str, run_id: str | None, tags: dict[str, str], description: str
    ) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        created = self.client.create_model_version(
            name=name, source=source, run_id=run_id, tags=tags, description=description
        )
        return self._of(created)

    def download(self, version: ModelVersion, destination: Path) -> Path:
        import mlflow.artifacts

        local = mlflow.artifacts.download_artifacts(
            artifact_uri=version.source, dst_path=str(destination), tracking_uri=self.tracking_uri
        )
        return Path(local)


def _quoted(value: str) -> str:
    """A value safe inside MLflow's single-quoted search filter."""
    if "'" in value or "`" in value or "\\" in value:
        raise InvalidInput(f"unsupported character in registry filter value {value!r}")
    return value


def resolve_version(registry: ModelRegistry, name: str, version: str | None, alias: str) -> str:
    """`version` if given (and it exists), else the version behind `alias`."""
    if version is None:
        found = registry.version_for_alias(name, alias)
        if found is None:
            raise NotFound(f"{name} has no version with the alias {alias!r}")
        return found.version
    return registry.get_version(name, version).version
