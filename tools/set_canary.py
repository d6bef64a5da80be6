"""set_canary: the share of a tenant's traffic that the staging model answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import select

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.vocabulary import Task
from sentimentops.inference.models import CanaryShare
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec


class SetCanaryInput(ToolInput):
    task: Task
    share: float = Field(ge=0.0, le=1.0, description="0 ends the canary; 1 sends all to staging")


class SetCanaryOutput(ToolOutput):
    task: str
    tenant: str
    share: float
    previous_share: float


async def set_canary(ctx: ToolContext, params: SetCanaryInput) -> SetCanaryOutput:
    """Set the share (0 to 1) of this tenant's scoring requests for a task that the `staging`
    model answers instead of `production` (a canary). The scoring service applies it within
    its model poll interval. Use 0 to end a canary."""

    def work() -> SetCanaryOutput:
        with transaction(ctx.sessions) as session:
            tenant_id = ctx.tenant_id(session)
            row = session.execute(
                select(CanaryShare).where(
                    CanaryShare.tenant_id == tenant_id, CanaryShare.task == params.task
                )
            ).scalar_one_or_none()
            previous = row.share if row is not None else 0.0
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    CanaryShare(
                        tenant_id=tenant_id,
                        task=params.task,
                        share=params.share,
                        updated_by=ctx.actor,
                        updated_at=now,
                    )
                )
            else:
                row.share, row.updated_by, row.updated_at = params.share, ctx.actor, now
            audit.record(
                session,
                actor=ctx.actor,
                tenant=ctx.tenant,
                action="canary.set",
                resource=f"canary/{params.task}",
                outcome="succeeded",
                details={
                    "share": params.share,
                    "previous_share": previous,
                    "workflow_id": ctx.workflow_id,
                },
            )
        return SetCanaryOutput(
            task=params.task, tenant=ctx.tenant, share=params.share, previous_share=previous
        )

    return await asyncio.to_thread(work)


SPEC = ToolSpec(
    name="set_canary",
    input_model=SetCanaryInput,
    output_model=SetCanaryOutput,
    run=set_canary,
    timeout_seconds=60,
)
