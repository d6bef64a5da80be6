"""Finished plans are announced in the tenant's channel by the updater: once, with their
outcome (a denial names its reason), and not for plans whose end a tracked message already
shows (tests/approvals/slack/test_full_flow.py checks that side)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.client import Client

from sentimentops.approvals.slack.models import SlackMessage
from sentimentops.core.db import transaction
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import PlanStep
from tests.approvals.slack.conftest import CHANNEL, TEAM, Harness
from tests.workflows.conftest import (
    TENANT,
    Platform,
    make_plan,
    running_platform,
)


async def test_ended_plans_are_announced_once(
    harness: Harness, temporal_client: Client, opa_url: str
) -> None:
    harness.link(TENANT, TEAM, CHANNEL)
    settings = harness.slack.settings
    async with running_platform(
        temporal_client, opa_url, harness.sessions, settings.data_dir.parent, settings=settings
    ) as platform:
        await _announced(harness, platform)


async def _announced(harness: Harness, platform: Platform) -> None:
    viewer = PolicyPrincipal(subject="vic", roles=["viewer"], tenant=TENANT)
    reads = await platform.start(
        make_plan(PlanStep(tool="get_service_metrics", params={"task": "sarcasm"}))
    )
    denied = await platform.start(
        make_plan(
            PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.5}), proposer=viewer
        )
    )
    # A deployment sentry's routine check (a plan too) is not announced.
    with transaction(harness.sessions) as session:
        session.add(
            PlanExecution(
                id="sentry-acme-sarcasm-check-1",
                tenant_id=platform.tenant.id,
                proposer="agent:deployment-sentry",
                plan_hash="e" * 64,
                rationale="deployment sentry check of sarcasm@production",
                tools=["get_service_metrics"],
                status="completed",
                message="",
                created_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
            )
        )
    await platform.wait_for(reads, {"completed"})
    await platform.wait_for(denied, {"denied"})
    for _ in range(150):
        if len(harness.stand_in.in_channel(CHANNEL)) >= 2:
            break
        await asyncio.sleep(0.2)
    shown = {
        m.blocks[0]["text"]["text"].split("`")[1]: json.dumps(m.blocks)
        for m in harness.stand_in.in_channel(CHANNEL)
    }
    assert set(shown) == {reads, denied}
    assert "completed" in shown[reads]
    assert "denied: " in shown[denied]
    assert "no role of vic may call set_canary" in shown[denied]
    # Announced once: more polls post nothing more.
    await asyncio.sleep(1.0)
    assert len(harness.stand_in.in_channel(CHANNEL)) == 2
    with harness.sessions() as session:
        kinds = [r.kind for r in session.execute(select(SlackMessage)).scalars()]
    assert kinds == ["finished", "finished"]
