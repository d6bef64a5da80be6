"""Durability: SIGKILL the worker process mid-training, start it again, and the plan completes
with exactly one registered model version (the killed attempt registered nothing; the retry
trains once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.vocabulary import CANDIDATE_ALIAS
from sentimentops.identity import service as identity
from sentimentops.tools.train_model import IDEMPOTENCY_HASH_TAG, _keep_first
from sentimentops.workflows.client import plan_progress, start_plan
from sentimentops.workflows.schemas import PlanStep
from tests.workflows.conftest import TENANT, make_plan, platform_settings

WORKER = [sys.executable, "-m", "sentimentops.app.cli", "worker"]


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            WORKER, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


async def _training_attempt(client: Client, workflow_id: str) -> int | None:
    """The attempt number of the running train_model activity, if one has started."""
    description = await client.get_workflow_handle(workflow_id).describe()
    for pending in description.raw_description.pending_activities:
        if (
            pending.activity_type.name == "train_model"
            and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        ):
            return int(pending.attempt)
    return None


async def test_worker_killed_mid_training_resumes_with_one_version(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path, database_url=fresh_db_url, training_heartbeat_seconds=3)
    with transaction(make_session_factory(make_engine(fresh_db_url))) as session:
        identity.create_tenant(session, actor="test", slug=TENANT)
    env = {
        **os.environ,
        "SENTIMENTOPS_DATA_DIR": str(settings.data_dir),
        "SENTIMENTOPS_DATABASE_URL": fresh_db_url,
        "SENTIMENTOPS_TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
        "SENTIMENTOPS_OPA_URL": opa_url,
        "SENTIMENTOPS_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SENTIMENTOPS_TRAINING_TASK_QUEUE": settings.training_task_queue,
        "SENTIMENTOPS_TRAINING_HEARTBEAT_SECONDS": "3",
    }
    log = tmp_path / "worker.log"
    plan = make_plan(PlanStep(tool="train_model", params={"task": "sarcasm"}))  # all data: ~1 min
    workflow_id = await start_plan(temporal_client, settings, plan)

    worker = _start_worker(env, log)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while await _training_attempt(temporal_client, workflow_id) != 1:
            assert loop.time() < deadline, log.read_text()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # well inside the fit
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

        worker = _start_worker(env, log)
        while True:
            assert loop.time() < deadline + 180, log.read_text()
            try:
                progress = await plan_progress(temporal_client, workflow_id)
            except RPCError:
                # The query needs a worker: the new one may still be starting (a loaded
                # machine takes seconds to import the platform).
                await asyncio.sleep(0.5)
                continue
            if progress.status in ("completed", "failed"):
                break
            await asyncio.sleep(0.5)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

    assert progress.status == "completed", progress.message
    uri = settings.resolved_mlflow_tracking_uri
    versions = MlflowClient(uri, registry_uri=uri).search_model_versions("name='sarcasm'")
    assert [str(v.version) for v in versions] == ["1"]
    assert progress.steps[0].result is not None
    assert progress.steps[0].result["version"] == "1"


def test_overlapping_attempts_of_one_training_keep_the_first_version(tmp_path: Path) -> None:
    """Two attempts of one train_model call that both got to register (the first one's worker
    stalled past its heartbeat timeout but kept running): the later version is deleted and both
    answer with the first, so the call leaves one version behind the candidate alias."""
    registry = MlflowRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    tags = {IDEMPOTENCY_HASH_TAG: "k" * 64}
    first = registry.register(
        "sarcasm", source=str(tmp_path), run_id=None, tags=tags, description=""
    )
    later = registry.register(
        "sarcasm", source=str(tmp_path), run_id=None, tags=tags, description=""
    )
    registry.set_alias("sarcasm", CANDIDATE_ALIAS, later.version)

    assert _keep_first(registry, "sarcasm", "k" * 64, first.version) is None
    kept = _keep_first(registry, "sarcasm", "k" * 64, later.version)

    assert kept is not None
    assert kept.version == first.version == "1"
    assert [v.version for v in registry.find_versions("sarcasm")] == ["1"]
    candidate = registry.version_for_alias("sarcasm", CANDIDATE_ALIAS)
    assert candidate is not None
    assert candidate.version == "1"
