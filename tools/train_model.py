"""train_model: fit a model family on a task's reference data, or on one of the tenant's dataset
versions, and register a candidate."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING

from pydantic import Field

from sentimentops.core.errors import InvalidInput
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Task
from sentimentops.tools.base import Queue, ToolContext, ToolInput, ToolOutput, ToolSpec

if TYPE_CHECKING:
    from sentimentops.core.model_registry import ModelRegistry
    from sentimentops.training.datasets.schemas import LineageNode
    from sentimentops.training.service import OwnData, TrainResult

IDEMPOTENCY_TAG = "sentimentops.idempotency_key"  # readable, for forensics
IDEMPOTENCY_HASH_TAG = "sentimentops.idempotency_sha256"  # safe to put in a search filter
DATASET_VERSION_TAG = "sentimentops.dataset_version"
DATASET_LINEAGE_TAG = "sentimentops.dataset_lineage"
# MLflow refuses tag values beyond 8,000 characters (5,000 on older servers): a lineage longer
# than this keeps its nearest ancestors and says it was cut.
_MAX_LINEAGE_CHARS = 4000


class TrainModelInput(ToolInput):
    task: Task
    family: str = Field(default="tfidf_lr", max_length=64, description="model family")
    max_train_samples: int | None = Field(
        default=None, ge=2, description="train on a random subset of this size (None: all)"
    )
    config_overrides: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        max_length=32,
        description=(
            "settings of the family's config file to change, by dotted key, e.g. "
            '{"optim.learning_rate": 2.5e-5, "optim.epochs": 2}; empty: the file as it is'
        ),
    )
    dataset_version: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8,64}$",
        description=(
            "train on this dataset version of the tenant (its id, or a unique prefix of 8+ hex "
            "digits of its id or content hash) instead of the reference data: its train split "
            "trains, its test split evaluates (the reference test split when it has none)"
        ),
    )


class TrainModelOutput(ToolOutput):
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]


def _registered_by(registry: ModelRegistry, task: str, key_hash: str) -> TrainModelOutput | None:
    """The version an earlier attempt of this very call registered, if it got that far."""
    found = registry.find_versions(task, tag=(IDEMPOTENCY_HASH_TAG, key_hash))
    if not found:
        return None
    version = min(found, key=lambda v: int(v.version))
    # The attempt may have died between registering and moving the alias.
    registry.set_alias(task, CANDIDATE_ALIAS, version.version)
    return TrainModelOutput(
        model_name=task,
        version=version.version,
        run_id=version.run_id or "",
        metrics=registry.version_metrics(task, version.version),
    )


def _check_overrides(params: TrainModelInput) -> None:
    """Refuse overrides the family's config does not take (InvalidInput, naming the key) before
    anything is trained or looked up: unknown task and family are left to training's own
    checks."""
    if not params.config_overrides:
        return
    from sentimentops.training.config import (
        FAMILIES,
        apply_overrides,
        default_config_path,
        load_config,
    )

    if params.family in FAMILIES:
        config = load_config(default_config_path(params.task, params.family))
        apply_overrides(config, params.config_overrides)


def _key_hash(tenant: str, params: TrainModelInput, dataset_version: str | None = None) -> str:
    """What a retry of this call finds its version by. Overrides and the dataset version (its
    full id) are part of it: the same key with other settings or data is another training
    (neither: the hash earlier versions were tagged with)."""
    key = f"{tenant}:{params.idempotency_key}"
    if params.config_overrides:
        key += ":" + json.dumps(params.config_overrides, sort_keys=True, separators=(",", ":"))
    if dataset_version is not None:
        key += f":dataset={dataset_version}"
    return hashlib.sha256(key.encode()).hexdigest()


def _lineage(node: LineageNode) -> str:
    """The version and its ancestors, nearest first, as compact JSON (id, name, transform,
    source, e.g. the labelling project an export came from, parents' ids): what the run's tag
    records; the full tree is in the dataset API."""
    chain: list[dict[str, object]] = []
    queue = [node]
    seen: set[str] = set()
    while queue:
        current = queue.pop(0)
        if current.id in seen:  # two parents that share an ancestor
            continue
        seen.add(current.id)
        chain.append(
            {
                "id": current.id,
                "name": current.name,
                "transform": current.transform,
                "source": current.source_name,
                "parents": [p.id for p in current.parents],
            }
        )
        queue.extend(current.parents)
    text = json.dumps(chain, separators=(",", ":"))
    while len(text) > _MAX_LINEAGE_CHARS and len(chain) > 1:
        chain.pop()
        text = json.dumps([*chain, {"truncated": True}], separators=(",", ":"))
    return text


def _own_data(ctx: ToolContext, params: TrainModelInput) -> OwnData | None:
    """The acting tenant's dataset version named by the call, with the tags that record it;
    another tenant's version is NotFound, like a missing one."""
    if params.dataset_version is None:
        return None
    from sentimentops.training.datasets import service as datasets
    from sentimentops.training.service import OwnData

    with ctx.sessions() as session:
        version = datasets.get_version(
            session, tenant_id=ctx.tenant_id(session), ref=params.dataset_version
        )
        if version.task != params.task:
            raise InvalidInput(
                f"dataset version {version.id} is for {version.task}, not {params.task}"
            )
        tags = {
            DATASET_VERSION_TAG: version.id,
            "sentimentops.dataset_version_name": version.name,
            "sentimentops.dataset_content_hash": version.content_hash,
            DATASET_LINEAGE_TAG: _lineage(datasets.lineage(session, version=version)),
        }
        frame = datasets.load_frame(ctx.settings, version)
    return OwnData(frame=frame, tags=tags)


def _train(
    ctx: ToolContext, params: TrainModelInput, tags: dict[str, str], own: OwnData | None
) -> TrainResult:
    # Imported here, in the worker thread: torch and MLflow take seconds to import, and doing
    # it on the event loop would stop the activity's heartbeats (and get the attempt retried).
    from sentimentops.training import service as training

    return training.train(
        settings=ctx.settings,
        task=params.task,
        family=params.family,
        max_train_samples=params.max_train_samples,
        on_step=ctx.heartbeat,
        version_tags=tags,
        config_overrides=params.config_overrides,
        own_data=own,
    )


def _keep_first(
    registry: ModelRegistry, task: str, key_hash: str, version: str
) -> TrainModelOutput | None:
    """The earlier attempt's output when it registered first (this attempt's version deleted)."""
    first = _registered_by(registry, task, key_hash)
    if first is None or first.version == version:
        return None
    registry.delete_version(task, version)
    return first


async def train_model(ctx: ToolContext, params: TrainModelInput) -> TrainModelOutput:
    """Train a model family (e.g. tfidf_lr) for a task (sentiment or sarcasm) on the bundled
    reference data, or on one of the tenant's dataset versions (`dataset_version`, e.g. a
    labelling export), evaluate it on the held-out test split, and register it in the model
    registry as a new version with the alias `candidate`. Returns the model name, the new
    version and its test metrics. `config_overrides` change settings of the family's config
    file (dotted keys, checked before anything runs). Slow (seconds to minutes); does not
    change what is served."""
    await asyncio.to_thread(_check_overrides, params)
    # Read before the idempotency lookup: the key holds the version's full id, and a version
    # the tenant does not own is refused before anything else happens.
    own = await asyncio.to_thread(_own_data, ctx, params)
    tags: dict[str, str] = {}
    if params.idempotency_key:
        # Set as the version is created, so a retry after a crash between registering and
        # recording the tool's result finds the version instead of training a second one.
        tags = {
            IDEMPOTENCY_TAG: params.idempotency_key,
            IDEMPOTENCY_HASH_TAG: _key_hash(
                ctx.tenant, params, own.tags[DATASET_VERSION_TAG] if own is not None else None
            ),
        }
        earlier = await asyncio.to_thread(
            _registered_by, ctx.registry(), params.task, tags[IDEMPOTENCY_HASH_TAG]
        )
        if earlier is not None:
            ctx.heartbeat(f"version {earlier.version} was registered by an earlier attempt")
            return earlier
    result = await asyncio.to_thread(_train, ctx, params, tags, own)
    if tags:
        # Two attempts of one call can overlap (a worker that stalls past the heartbeat timeout
        # is retried while its thread still runs): the first version registered wins, and a
        # later one is deleted, so a call leaves exactly one version whatever the timing.
        kept = await asyncio.to_thread(
            _keep_first, ctx.registry(), params.task, tags[IDEMPOTENCY_HASH_TAG], result.version
        )
        if kept is not None:
            return kept
    return TrainModelOutput(
        model_name=result.model_name,
        version=result.version,
        run_id=result.run_id,
        metrics=result.metrics,
    )


# Families that train with PyTorch and gain from a GPU: with settings.gpu_task_queue set, the
# plan workflow sends their training there.
GPU_FAMILIES = frozenset({"minilm", "notebook"})


def _queue(params: TrainModelInput) -> Queue:
    return "gpu" if params.family in GPU_FAMILIES else "training"


SPEC = ToolSpec(
    name="train_model",
    input_model=TrainModelInput,
    output_model=TrainModelOutput,
    run=train_model,
    queue="training",
    route=_queue,
    timeout_seconds=4 * 3600,
    max_attempts=3,
    heartbeat=True,
)
