"""promote_model: point the staging or production alias at a version."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from sentimentops.core.db import transaction
from sentimentops.core.model_registry import resolve_version
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Task
from sentimentops.tools import promotions
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec


class PromoteModelInput(ToolInput):
    task: Task
    target: Literal["staging", "production"]
    version: str | None = Field(default=None, description="None: the candidate alias's version")


class PromoteModelOutput(ToolOutput):
    model_name: str
    version: str
    target: str
    previous_version: str | None


async def promote_model(ctx: ToolContext, params: PromoteModelInput) -> PromoteModelOutput:
    """Promote a registered model version to `staging` (answers the canary share of traffic) or
    `production` (answers everyone else). The scoring service hot-swaps to it within seconds.
    The move is remembered so that rollback_model can undo it. Promotion to production needs a
    human approval."""
    registry = ctx.registry()

    def work() -> PromoteModelOutput:
        version = resolve_version(registry, params.task, params.version, CANDIDATE_ALIAS)
        with transaction(ctx.sessions) as session:
            previous = promotions.promote(
                session,
                registry,
                model_name=params.task,
                version=version,
                alias=params.target,
                actor=ctx.actor,
                tenant=ctx.tenant,
                workflow_id=ctx.workflow_id,
            )
        return PromoteModelOutput(
            model_name=params.task,
            version=version,
            target=params.target,
            previous_version=previous,
        )

    return await asyncio.to_thread(work)


SPEC = ToolSpec(
    name="promote_model",
    input_model=PromoteModelInput,
    output_model=PromoteModelOutput,
    run=promote_model,
    timeout_seconds=120,
)
