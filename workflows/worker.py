"""The Temporal workers: the platform queue (workflows and every quick tool) and the training
queue (train_model, heartbeating). `sentimentops worker` runs both in one process by default;
`--queue training` runs only training; `--queue gpu` serves settings.gpu_task_queue (PyTorch
families' training, when that queue is configured) on a GPU machine."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from sentimentops.approvals.notifier import Notifier, build_notifier
from sentimentops.core.db import make_engine, make_session_factory
from sentimentops.core.knowledge import KnowledgeSearch
from sentimentops.core.logging import get_logger
from sentimentops.core.policy import OpaPolicyEngine, PolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect
from sentimentops.workflows.activities import (
    IncidentActivities,
    IncidentWriter,
    PlanActivities,
    PolicyActivities,
    ToolActivities,
)
from sentimentops.workflows.plan import PlanExecutionWorkflow
from sentimentops.workflows.policy_check import PolicyCheckWorkflow
from sentimentops.workflows.sentry import DeploymentSentryWorkflow

WORKFLOWS = [PolicyCheckWorkflow, PlanExecutionWorkflow, DeploymentSentryWorkflow]
Queues = Literal["all", "platform", "training", "gpu"]

log = get_logger(__name__)


def build_worker(
    client: Client,
    *,
    task_queue: str,
    policy: PolicyEngine,
    sessions: sessionmaker[Session],
    settings: Settings | None = None,
    notifier: Notifier | None = None,
    incident_writer: IncidentWriter | None = None,
    knowledge: Callable[[], KnowledgeSearch] | None = None,
) -> Worker:
    """The platform queue's worker; without settings only the policy spine (no tools).
    `incident_writer` writes the sentry's incidents (the app layer passes the Deployment Sentry
    agent's); without one they are only notified. `knowledge` answers `search_kb` steps (the
    app layer passes the knowledge base's); without it they fail with a clear message."""
    policy_activities = PolicyActivities(policy=policy, sessions=sessions)
    activities: list[Callable[..., Any]] = [policy_activities.check_policy]
    if settings is not None:
        notifier = notifier or build_notifier(settings)
        plan = PlanActivities(settings=settings, sessions=sessions, notifier=notifier)
        tools = ToolActivities(
            settings=settings, policy=policy, sessions=sessions, knowledge=knowledge
        )
        incidents = IncidentActivities(
            settings=settings,
            sessions=sessions,
            policy=policy,
            notifier=notifier,
            writer=incident_writer,
        )
        activities += [plan.create_approval, plan.close_approval, plan.record_event]
        activities += [plan.plan_started, plan.plan_finished, incidents.sentry_incident]
        activities += tools.activities("default")
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities)


def build_training_worker(
    client: Client,
    *,
    task_queue: str,
    policy: PolicyEngine,
    sessions: sessionmaker[Session],
    settings: Settings,
    heartbeat_seconds: float = 5.0,
) -> Worker:
    """The training queue's worker: only the training tools' activities, one at a time (a
    training uses the machine's cores; two at once would only be slower)."""
    tools = ToolActivities(
        settings=settings, policy=policy, sessions=sessions, heartbeat_seconds=heartbeat_seconds
    )
    return Worker(
        client,
        task_queue=task_queue,
        activities=tools.activities("training"),
        max_concurrent_activities=1,
    )


def _embedded_store_missing(settings: Settings) -> bool:
    return (
        settings.mlflow_tracking_uri is None and not (settings.mlflow_dir / "mlflow.db").is_file()
    )


async def run_worker(
    settings: Settings,
    queues: Queues = "all",
    *,
    incident_writer: IncidentWriter | None = None,
    knowledge: Callable[[], KnowledgeSearch] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then let in-flight activities finish (graceful shutdown)."""
    client = await connect(settings)
    if _embedded_store_missing(settings):
        # Before any activity can touch it: a first use killed halfway breaks the store. Only
        # on first run: MLflow (seconds to import) is otherwise loaded by the first activity
        # that needs it, so a restarted worker polls again at once.
        from sentimentops.training.service import ensure_mlflow_store

        await asyncio.to_thread(ensure_mlflow_store, settings)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    policy = OpaPolicyEngine(settings.resolved_opa_url)
    workers: list[Worker] = []
    if queues in ("all", "platform"):
        workers.append(
            build_worker(
                client,
                task_queue=settings.temporal_task_queue,
                policy=policy,
                sessions=sessions,
                settings=settings,
                incident_writer=incident_writer,
                knowledge=knowledge,
            )
        )
    training_queues = {
        "all": [settings.training_task_queue],
        "training": [settings.training_task_queue],
        "gpu": [settings.gpu_task_queue] if settings.gpu_task_queue else [],
    }.get(queues, [])
    if queues == "gpu" and not training_queues:
        raise ValueError("--queue gpu needs SENTIMENTOPS_GPU_TASK_QUEUE")
    for queue in training_queues:
        workers.append(
            build_training_worker(
                client,
                task_queue=queue,
                policy=policy,
                sessions=sessions,
                settings=settings,
                heartbeat_seconds=max(1.0, settings.training_heartbeat_seconds / 4),
            )
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker.started",
        queues=queues,
        task_queue=settings.temporal_task_queue,
        training_task_queue=settings.training_task_queue,
    )
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run())
        await stop.wait()
        for worker in workers:
            group.create_task(worker.shutdown())
    log.info("worker.stopped")
