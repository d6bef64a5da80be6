"""train_model: fit a model family on a task's reference data and register a candidate."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from pydantic import Field

from sentimentops.core.vocabulary import Task
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.training import service as training

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

IDEMPOTENCY_TAG = "sentimentops.idempotency_key"  # readable, for forensics
IDEMPOTENCY_HASH_TAG = "sentimentops.idempotency_sha256"  # safe to put in a search filter


class TrainModelInput(ToolInput):
    task: Task
    family: str = Field(default="tfidf_lr", max_length=64, description="model family")
    max_train_samples: int | None = Field(
        default=None, ge=2, description="train on a random subset of this size (None: all)"
    )


class TrainModelOutput(ToolOutput):
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]


def _registered_by(client: MlflowClient, task: str, key_hash: str) -> TrainModelOutput | None:
    """The version an earlier attempt of this very call registered, if it got that far."""
    found = client.search_model_versions(
        f"name='{task}' and tags.`{IDEMPOTENCY_HASH_TAG}` = '{key_hash}'"
    )
    if not found:
        return None
    version = min(found, key=lambda v: int(v.version))
    # The attempt may have died between registering and moving the alias.
    client.set_registered_model_alias(task, training.CANDIDATE_ALIAS, version.version)
    run_id = str(version.run_id)
    return TrainModelOutput(
        model_name=task, version=str(version.version), run_id=run_id,
        metrics=dict(client.get_run(run_id).data.metrics),
    )  # fmt: skip


async def train_model(ctx: ToolContext, params: TrainModelInput) -> TrainModelOutput:
    """Train a model family (e.g. tfidf_lr) for a task (sentiment or sarcasm) on the bundled
    reference data, evaluate it on the held-out test split, and register it in the model
    registry as a new version with the alias `candidate`. Returns the model name, the new
    version and its test metrics. Slow (seconds to minutes); does not change what is served."""
    tags: dict[str, str] = {}
    if params.idempotency_key:
        # Set as the version is created, so a retry after a crash between registering and
        # recording the tool's result finds the version instead of training a second one.
        key = f"{ctx.tenant}:{params.idempotency_key}"
        tags = {
            IDEMPOTENCY_TAG: params.idempotency_key,
            IDEMPOTENCY_HASH_TAG: hashlib.sha256(key.encode()).hexdigest(),
        }
        earlier = await asyncio.to_thread(
            _registered_by, ctx.mlflow(), params.task, tags[IDEMPOTENCY_HASH_TAG]
        )
        if earlier is not None:
            ctx.heartbeat(f"version {earlier.version} was registered by an earlier attempt")
            return earlier
    result = await asyncio.to_thread(
        training.train,
        settings=ctx.settings,
        task=params.task,
        family=params.family,
        max_train_samples=params.max_train_samples,
        on_step=ctx.heartbeat,
        version_tags=tags,
    )
    return TrainModelOutput(
        model_name=result.model_name,
        version=result.version,
        run_id=result.run_id,
        metrics=result.metrics,
    )


# Families that train with PyTorch and gain from a GPU: with settings.gpu_task_queue set, the
# plan workflow sends their training there.
GPU_FAMILIES = frozenset({"minilm", "notebook"})


SPEC = ToolSpec(
    name="train_model",
    input_model=TrainModelInput,
    output_model=TrainModelOutput,
    run=train_model,
    queue="training",
    timeout_seconds=4 * 3600,
    max_attempts=3,
    heartbeat=True,
)
