"""The serving side of the model registry: `ModelWatcher` follows the aliases.

It polls the model registry (core/model_registry.py: MLflow, or a model pack on a
scoring-only install); when the version behind `production` or `staging` of a task
changes, it downloads the artifact, loads and warms it beside the serving one, and installs it
(see inference/slots.py). A version that fails to load or to pass the smoke test is refused,
audited, and not retried until the alias moves again; the old version keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.logging import get_logger
from sentimentops.core.metrics import Metrics
from sentimentops.core.model_registry import ModelRegistry, ModelVersion
from sentimentops.core.vocabulary import ALIASES
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.batching import MicroBatcher
from sentimentops.inference.models import CanaryShare
from sentimentops.inference.slots import ModelSlots, ServingModel

log = get_logger(__name__)


def fetch_artifact(registry: ModelRegistry, version: ModelVersion, cache_dir: Path) -> Path:
    """The version's serving artifact in `cache_dir/<name>/<version>`, downloaded once. The
    download goes to a scratch folder that is then renamed: a crash never leaves half a model."""
    target = cache_dir / version.name / version.version
    if (target / "model.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".download-"))
    try:
        root = _artifact_root(registry.download(version, scratch))
        shutil.move(str(root), str(target))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _artifact_root(directory: Path) -> Path:
    """The folder holding model.json: the download itself or its one subfolder."""
    if (directory / "model.json").is_file():
        return directory
    candidates = [p.parent for p in directory.glob("*/model.json")]
    if len(candidates) != 1:
        raise FileNotFoundError(f"no single model.json under {directory}")
    return candidates[0]


class ModelWatcher:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        slots: ModelSlots,
        tasks: list[str],
        cache_dir: Path,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        batch_max_size: int = 32,
        batch_max_wait_ms: float = 2.0,
        ort_threads: int | None = None,
    ) -> None:
        self._registry = registry
        self._slots = slots
        self._tasks = tasks
        self._cache_dir = cache_dir
        self._sessions = sessions
        self._metrics = metrics
        self._batch_max_size = batch_max_size
        self._batch_max_wait_ms = batch_max_wait_ms
        self._ort_threads = ort_threads
        self._refused: set[tuple[str, str, str]] = set()
        self._task: asyncio.Task[None] | None = None

    async def sync_once(self) -> list[str]:
        """Bring every task/alias to the registry's version; returns what changed."""
        changes = []
        for task in self._tasks:
            for alias in ALIASES:
                resolved = await asyncio.to_thread(self._registry.version_for_alias, task, alias)
                if resolved is None or not resolved.source:
                    continue
                current = self._slots.get(task, alias)
                key = (task, alias, resolved.version)
                if (current and current.version == resolved.version) or key in self._refused:
                    continue
                if await self._install(task, alias, resolved):
                    changes.append(f"{task}@{alias}={resolved.version}")
                else:
                    self._refused.add(key)
        for tenant_id, task, share in await asyncio.to_thread(self._canary_shares):
            if self._slots.canary_share(tenant_id, task) != share:
                self._slots.set_canary(share, tenant=tenant_id, task=task)
                changes.append(f"canary {task}@{tenant_id}={share}")
        return changes

    def _canary_shares(self) -> list[tuple[str, str, float]]:
        """Per-tenant canary shares set by the set_canary tool (tools/set_canary.py)."""
        with self._sessions() as session:
            rows = session.execute(
                select(CanaryShare.tenant_id, CanaryShare.task, CanaryShare.share)
            ).all()
        return [(str(r[0]), str(r[1]), float(r[2])) for r in rows if r[1] in self._tasks]

    async def _install(self, task: str, alias: str, resolved: ModelVersion) -> bool:
        previous = self._slots.get(task, alias)
        try:
            directory = await asyncio.to_thread(
                fetch_artifact, self._registry, resolved, self._cache_dir
            )
            scorer = await asyncio.to_thread(load_scorer, directory, threads=self._ort_threads)
            version_label = f"{resolved.name}/{resolved.version}"
            model = ServingModel(
                task=task,
                name=resolved.name,
                version=resolved.version,
                alias=alias,
                scorer=scorer,
                batcher=MicroBatcher(
                    scorer.score,
                    n_labels=len(scorer.labels),
                    max_batch=self._batch_max_size,
                    max_wait_ms=self._batch_max_wait_ms,
                    on_batch=self._metrics.batch_size.labels(version_label).observe,
                ),
            )
            await self._slots.install(model)
        except Exception as exc:  # noqa: BLE001 - any failure refuses this version
            log.warning(
                "model.refused", task=task, alias=alias, version=resolved.version, error=str(exc)
            )
            await asyncio.to_thread(
                self._audit, task, alias, resolved, "refused", {"error": str(exc)[:500]}
            )
            self._metrics.model_swaps.labels(task, alias, "refused").inc()
            return False
        if previous is not None:
            self._metrics.model_info.remove(task, alias, previous.name, previous.version)
        self._metrics.model_info.labels(task, alias, resolved.name, resolved.version).set(1)
        self._metrics.model_swaps.labels(task, alias, "installed").inc()
        # The audit row is written off the event loop: scoring requests must never wait on it.
        replaced: dict[str, object] = {"replaced": previous.version if previous else None}
        await asyncio.to_thread(self._audit, task, alias, resolved, "installed", replaced)
        log.info("model.installed", task=task, alias=alias, version=resolved.version)
        return True

    def _audit(
        self,
        task: str,
        alias: str,
        resolved: ModelVersion,
        outcome: str,
        details: dict[str, object],
    ) -> None:
        with transaction(self._sessions) as session:
            audit.record(
                session,
                actor="system:scoring-service",
                tenant="system",
                action=f"model.serve:{alias}",
                resource=f"model/{task}/{resolved.name}/{resolved.version}",
                outcome=outcome,
                details=details,
            )

    def start(self, poll_seconds: float) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.sync_once()
                except Exception:
                    log.exception("model.sync_failed")
                await asyncio.sleep(poll_seconds)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
