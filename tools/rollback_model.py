"""rollback_model: move an alias back to the version that was live before."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.core.db import transaction
from sentimentops.core.vocabulary import Alias, Task
from sentimentops.tools import promotions
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec


class RollbackModelInput(ToolInput):
    task: Task
    alias: Alias = "production"
    steps: int = Field(default=1, ge=1, le=20, description="how many versions back")


class RollbackModelOutput(ToolOutput):
    model_name: str
    alias: str
    from_version: str | None
    to_version: str | None


async def rollback_model(ctx: ToolContext, params: RollbackModelInput) -> RollbackModelOutput:
    """Roll the production (or staging) alias of a task back to the version that was live
    before the last promotion (or `steps` promotions ago), using the platform's promotion
    history. The scoring service swaps back within seconds. Rolling back more than one version
    needs a human approval."""
    registry = ctx.registry()

    def work() -> RollbackModelOutput:
        with transaction(ctx.sessions) as session:
            before, after = promotions.rollback(
                session,
                registry,
                model_name=params.task,
                alias=params.alias,
                steps=params.steps,
                actor=ctx.actor,
                tenant=ctx.tenant,
                workflow_id=ctx.workflow_id,
            )
        return RollbackModelOutput(
            model_name=params.task, alias=params.alias, from_version=before, to_version=after
        )

    return await asyncio.to_thread(work)


SPEC = ToolSpec(
    name="rollback_model",
    input_model=RollbackModelInput,
    output_model=RollbackModelOutput,
    run=rollback_model,
    timeout_seconds=120,
)
