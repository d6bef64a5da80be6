"""train_model: fit a model family on a task's reference data and register a candidate."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.tools.base import Task, ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.training import service as training

IDEMPOTENCY_TAG = "sentimentops.idempotency_key"


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


async def train_model(ctx: ToolContext, params: TrainModelInput) -> TrainModelOutput:
    """Train a model family (e.g. tfidf_lr) for a task (sentiment or sarcasm) on the bundled
    reference data, evaluate it on the held-out test split, and register it in the model
    registry as a new version with the alias `candidate`. Returns the model name, the new
    version and its test metrics. Slow (seconds to minutes); does not change what is served."""
    result = await asyncio.to_thread(
        training.train,
        settings=ctx.settings,
        task=params.task,
        family=params.family,
        max_train_samples=params.max_train_samples,
        on_step=ctx.heartbeat,
    )
    if params.idempotency_key:
        # Lets an operator find which plan step produced a version (forensics after a crash).
        client = ctx.mlflow()
        await asyncio.to_thread(
            client.set_model_version_tag,
            result.model_name,
            result.version,
            IDEMPOTENCY_TAG,
            params.idempotency_key,
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
