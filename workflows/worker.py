"""The Temporal worker: registers every workflow and activity on the platform's task queue."""

from __future__ import annotations

import asyncio
import signal

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from sentimentops.core.db import make_engine, make_session_factory
from sentimentops.core.logging import get_logger
from sentimentops.core.policy import OpaPolicyEngine, PolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect
from sentimentops.workflows.activities import PolicyActivities
from sentimentops.workflows.policy_check import PolicyCheckWorkflow

WORKFLOWS = [PolicyCheckWorkflow]

log = get_logger(__name__)


def build_worker(
    client: Client,
    *,
    task_queue: str,
    policy: PolicyEngine,
    sessions: sessionmaker[Session],
) -> Worker:
    activities = PolicyActivities(policy=policy, sessions=sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[activities.check_policy],
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then let in-flight activities finish (graceful shutdown)."""
    client = await connect(settings)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    worker = build_worker(
        client,
        task_queue=settings.temporal_task_queue,
        policy=OpaPolicyEngine(settings.resolved_opa_url),
        sessions=sessions,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker.started", task_queue=settings.temporal_task_queue)
    async with worker:
        await stop.wait()
    log.info("worker.stopped")
