"""The knowledge base on Temporal: the `KnowledgeBaseReindex` workflow, the small search and
status workflows through which other processes reach the one that holds the store, their
activities, the worker that serves them, and the clients that start them.

Everything runs on the knowledge base's own task queue (`<temporal_task_queue>-kb`), served by
the process that holds the store: the API (wiring.py says why). The reindex walks its scopes
one activity each ("docs", "models", then every tenant); a scope's sync embeds only what
changed, so running it again is cheap and a reindex cut short resumes where it was (Temporal
keeps the scopes done; the interrupted one starts over and skips its unchanged chunks). One
reindex runs at a time: a start while one runs joins it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleSpec,
    )
    from temporalio.worker import Worker

    from sentimentops.core.errors import temporal_errors
    from sentimentops.core.knowledge import KbHit, KbKind
    from sentimentops.core.logging import get_logger
    from sentimentops.core.settings import Settings
    from sentimentops.core.temporal import connect
    from sentimentops.knowledge_base.schemas import (
        KbStatus,
        ReindexRequest,
        ReindexResult,
        ScopeResult,
        SearchRequest,
    )
    from sentimentops.knowledge_base.wiring import KnowledgeRuntime

log = get_logger(__name__)

REINDEX_WORKFLOW_ID = "kb-reindex"
REINDEX_SCHEDULE_ID = "kb-reindex-schedule"
# Plans finish and versions register all day; a re-index that finds nothing new costs a scan.
REINDEX_EVERY = timedelta(minutes=15)
HEARTBEAT_SECONDS = 10.0
# A scope's first index embeds everything (the docs: about a minute on 2 cores; the encoder's
# one-off export adds half a minute); later ones take seconds.
_SYNC_TIMEOUT = timedelta(hours=2)
_SYNC_HEARTBEAT = timedelta(seconds=60)
_QUICK_TIMEOUT = timedelta(seconds=60)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5)
# Searches and status are asked by someone waiting: fail fast when the API is away.
_ASK_TIMEOUT = timedelta(seconds=30)


class SyncStopped(Exception):
    """A scope's sync stopped between two batches because its activity was cancelled."""


def kb_task_queue(settings: Settings) -> str:
    return f"{settings.temporal_task_queue}-kb"


class KnowledgeActivities:
    """Activities over the process's KnowledgeRuntime."""

    def __init__(self, runtime: KnowledgeRuntime) -> None:
        self._runtime = runtime

    @activity.defn(name="kb_scopes")
    async def scopes(self, request: ReindexRequest) -> list[str]:
        return await asyncio.to_thread(self._runtime.scopes, request.scopes)

    @activity.defn(name="kb_sync_scope")
    async def sync_scope(self, scope: str) -> ScopeResult:
        """Sync one scope, heartbeating its progress (embedded chunks of the total). Cancelled
        (the API stopping), the embedding stops after its current batch; nothing was stored
        yet then, and the retry starts the scope over."""
        progress = {"done": 0, "total": 0}
        stop = threading.Event()

        def on_progress(done: int, total: int) -> None:
            if stop.is_set():
                raise SyncStopped(scope)
            progress.update(done=done, total=total)

        work = asyncio.ensure_future(
            asyncio.to_thread(self._runtime.sync_scope, scope, on_progress)
        )
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_SECONDS)
                if done:
                    return work.result()
                activity.heartbeat(f"{scope}: embedded {progress['done']} of {progress['total']}")
        except asyncio.CancelledError:
            stop.set()
            raise

    @activity.defn(name="kb_search")
    async def search(self, request: SearchRequest) -> list[KbHit]:
        return await self._runtime.search(
            tenant_id=request.tenant_id,
            query=request.query,
            limit=request.limit,
            kinds=request.kinds,
        )

    @activity.defn(name="kb_status")
    async def status(self, tenant_id: str | None) -> KbStatus:
        return await asyncio.to_thread(self._runtime.status, tenant_id)


@workflow.defn(name="KnowledgeBaseReindex")
class KnowledgeBaseReindex:
    @workflow.run
    async def run(self, request: ReindexRequest) -> ReindexResult:
        scopes = await workflow.execute_activity_method(
            KnowledgeActivities.scopes,
            request,
            start_to_close_timeout=_QUICK_TIMEOUT,
            retry_policy=_RETRY,
        )
        results = []
        for scope in scopes:
            results.append(
                await workflow.execute_activity_method(
                    KnowledgeActivities.sync_scope,
                    scope,
                    start_to_close_timeout=_SYNC_TIMEOUT,
                    heartbeat_timeout=_SYNC_HEARTBEAT,
                    retry_policy=_RETRY,
                )
            )
        return ReindexResult(scopes=results)


@workflow.defn(name="KnowledgeBaseSearch")
class KnowledgeBaseSearch:
    @workflow.run
    async def run(self, request: SearchRequest) -> list[KbHit]:
        return await workflow.execute_activity_method(
            KnowledgeActivities.search,
            request,
            start_to_close_timeout=_ASK_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=2),
        )


@workflow.defn(name="KnowledgeBaseStatus")
class KnowledgeBaseStatus:
    @workflow.run
    async def run(self, tenant_id: str | None) -> KbStatus:
        return await workflow.execute_activity_method(
            KnowledgeActivities.status,
            tenant_id,
            start_to_close_timeout=_ASK_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=2),
        )


WORKFLOWS = [KnowledgeBaseReindex, KnowledgeBaseSearch, KnowledgeBaseStatus]


def build_knowledge_worker(client: Client, settings: Settings, runtime: KnowledgeRuntime) -> Worker:
    """The worker of the knowledge base's queue, in the process that holds the store."""
    activities = KnowledgeActivities(runtime)
    return Worker(
        client,
        task_queue=kb_task_queue(settings),
        workflows=WORKFLOWS,
        activities=[activities.scopes, activities.sync_scope, activities.search, activities.status],
        # One scope at a time: embedding takes the cores; searches stay quick beside it.
        max_concurrent_activities=4,
    )


async def serve_knowledge_queue(
    settings: Settings, runtime: KnowledgeRuntime, *, retry_seconds: float = 5.0
) -> None:
    """Open the knowledge base now, in the background (the first search must not wait for the
    encoder's export), and serve its queue until cancelled (cancelling shuts the worker down
    cleanly). Temporal being away is waited out: the API serves without it meanwhile."""
    warm = asyncio.ensure_future(_open(runtime))
    try:
        while True:
            try:
                client = await connect(settings)
                log.info("kb.worker.started", task_queue=kb_task_queue(settings))
                await build_knowledge_worker(client, settings, runtime).run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything from Temporal: wait and retry
                log.warning("kb.worker.unavailable", error=str(exc), retry_seconds=retry_seconds)
            await asyncio.sleep(retry_seconds)
    finally:
        warm.cancel()


async def _open(runtime: KnowledgeRuntime) -> None:
    try:
        await asyncio.to_thread(runtime.service)
    except Exception as exc:  # noqa: BLE001 - logged; the first search reports it to its caller
        log.warning("kb.open_failed", error=str(exc))


async def start_reindex(client: Client, settings: Settings, scopes: list[str] | None = None) -> str:
    """Start a reindex (or join the one running); its workflow id. Returns at once."""
    with temporal_errors("starting the knowledge base reindex"):
        handle = await client.start_workflow(
            KnowledgeBaseReindex.run,
            ReindexRequest(scopes=scopes),
            id=REINDEX_WORKFLOW_ID,
            task_queue=kb_task_queue(settings),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    return str(handle.id)


async def ensure_reindex_schedule(client: Client, settings: Settings) -> None:
    """Re-index everything every REINDEX_EVERY (new plans, incidents, model versions)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            KnowledgeBaseReindex.run,
            ReindexRequest(),
            id=f"{REINDEX_WORKFLOW_ID}-scheduled",
            task_queue=kb_task_queue(settings),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=REINDEX_EVERY)]),
    )
    # An earlier `up` made it already: that one stays.
    with (
        temporal_errors("scheduling the knowledge base reindex"),
        contextlib.suppress(ScheduleAlreadyRunningError),
    ):
        await client.create_schedule(REINDEX_SCHEDULE_ID, schedule)


class RemoteKnowledge:
    """The knowledge base of the process that holds it, asked through Temporal (the worker's
    `search_kb` steps and the CLI, in local mode); implements KnowledgeSearch."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None

    async def _connect(self) -> Client:
        if self._client is None:
            with temporal_errors("connecting to Temporal"):
                self._client = await connect(self._settings)
        return self._client

    async def search(
        self,
        *,
        tenant_id: str | None,
        query: str,
        limit: int = 5,
        kinds: tuple[KbKind, ...] | None = None,
    ) -> list[KbHit]:
        request = SearchRequest(tenant_id=tenant_id, query=query, limit=limit, kinds=kinds)
        client = await self._connect()
        with temporal_errors("searching the knowledge base"):
            hits: list[KbHit] = await client.execute_workflow(
                KnowledgeBaseSearch.run,
                request,
                id=f"kb-search-{uuid.uuid4().hex[:16]}",
                task_queue=kb_task_queue(self._settings),
                execution_timeout=_ASK_TIMEOUT,
            )
        return hits

    async def status(self, tenant_id: str | None) -> KbStatus:
        client = await self._connect()
        with temporal_errors("reading the knowledge base's status"):
            status: KbStatus = await client.execute_workflow(
                KnowledgeBaseStatus.run,
                tenant_id,
                id=f"kb-status-{uuid.uuid4().hex[:16]}",
                task_queue=kb_task_queue(self._settings),
                execution_timeout=_ASK_TIMEOUT,
            )
        return status

    async def reindex(self, scopes: list[str] | None) -> ReindexResult:
        """Run a reindex (or wait for the one running) to its end."""
        client = await self._connect()
        workflow_id = await start_reindex(client, self._settings, scopes)
        with temporal_errors("re-indexing the knowledge base"):
            handle = client.get_workflow_handle_for(KnowledgeBaseReindex.run, workflow_id)
            result = await handle.result()
        return result
