"""The process's knowledge base: the store and the encoder, opened on first use and once.

In local mode Qdrant's folder is locked by the first process that opens it, so exactly one
process holds it: the API (`sentimentops api`, started by `up`). It serves the searches of its
routes and agents in-process, and runs the knowledge base's Temporal queue (workflow.py) for
everyone else: the reindex workflow, and the searches of the worker's `search_kb` steps and of
the CLI, which reach it through Temporal (RemoteKnowledge). With a Qdrant server every process
may open the store itself. docs/knowledge_base.md says why the API holds it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.errors import InvalidInput, ServiceUnavailable
from sentimentops.core.knowledge import KbHit, KbKind
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.identity.models import Tenant
from sentimentops.knowledge_base import sources
from sentimentops.knowledge_base.chunking import SourceDocument
from sentimentops.knowledge_base.embedding import Progress, encoder_path, is_current, load_encoder
from sentimentops.knowledge_base.models import KbDocument
from sentimentops.knowledge_base.schemas import KbStatus, ScopeResult
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.store import KnowledgeStore, Scope, StoreUnavailable, SyncResult

PLATFORM_SCOPES = ("docs", "models")
TENANT_PREFIX = "tenant:"
# How long a caller waits for another thread that is opening the knowledge base (the API warms
# it at start-up; a first start exports the encoder) before being told to come back.
OPENING_WAIT_SECONDS = 5.0
OPENING_RETRY_SECONDS = 10


class KnowledgeBaseOpening(ServiceUnavailable):
    """Another thread of this process is still opening the store and encoder."""


def _result(scope: str, result: SyncResult) -> ScopeResult:
    return ScopeResult(
        scope=scope,
        sources=result.sources,
        chunks=result.chunks,
        embedded=result.embedded,
        deleted=result.deleted,
    )


class KnowledgeRuntime:
    """The knowledge base of this process (see the module docstring); implements
    core.knowledge.KnowledgeSearch. `service` replaces the store and encoder the settings
    name (tests share one encoder export and one local store this way)."""

    def __init__(
        self,
        settings: Settings,
        *,
        sessions: sessionmaker[Session],
        registry: Callable[[], ModelRegistry],
        service: KnowledgeService | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._registry = registry
        self._service = service
        self._owned = service is None
        self._lock = threading.Lock()

    def service(
        self,
        wait: float | None = OPENING_WAIT_SECONDS,
        on_export: Callable[[], None] | None = None,
    ) -> KnowledgeService:
        """The store and encoder, opened on first use (the encoder is exported first when the
        data directory has none: about half a minute, once). StoreUnavailable when another
        process holds the local store; KnowledgeBaseOpening when another thread has been opening
        it for longer than `wait` seconds (a request answers 503 rather than hang meanwhile; None
        waits as long as it takes, for indexing). `on_export` is called before a first export."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            raise KnowledgeBaseOpening(
                "the knowledge base is still opening (on a first start the encoder is exported "
                "into the data directory: about half a minute); try again shortly",
                retry_after=OPENING_RETRY_SECONDS,
            )
        try:
            if self._service is None:
                store = KnowledgeStore.open(self.settings)
                if on_export is not None and not is_current(encoder_path(self.settings)):
                    on_export()  # the store is ours: the export below will happen here
                try:
                    embedder = load_encoder(self.settings)
                except BaseException:
                    store.close()
                    raise
                self._service = KnowledgeService(store, embedder)
            return self._service
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._service is not None and self._owned:
                self._service.store.close()
                self._service = None

    # --- KnowledgeSearch ------------------------------------------------------------------

    async def search(
        self,
        *,
        tenant_id: str | None,
        query: str,
        limit: int = 5,
        kinds: tuple[KbKind, ...] | None = None,
    ) -> list[KbHit]:
        service = await asyncio.to_thread(self.service)
        return await service.search(tenant_id=tenant_id, query=query, limit=limit, kinds=kinds)

    # --- Indexing -------------------------------------------------------------------------

    def scopes(self, requested: Sequence[str] | None) -> list[str]:
        """The scope names a reindex of `requested` covers ("tenants": each tenant's)."""
        with self._sessions() as session:
            tenant_ids = [f"{TENANT_PREFIX}{t.id}" for t in sources.tenants(session)]
        if requested is None:
            return [*PLATFORM_SCOPES, *tenant_ids]
        names: list[str] = []
        for name in requested:
            if name == "tenants":
                names.extend(tenant_ids)
            elif name in PLATFORM_SCOPES or name in tenant_ids:
                names.append(name)
            else:
                raise InvalidInput(f"unknown knowledge base scope {name!r}")
        return list(dict.fromkeys(names))

    def _documents(self, name: str) -> tuple[Scope, list[SourceDocument]]:
        if name == "docs":
            return sources.DOCS_SCOPE, sources.platform_docs()
        if name == "models":
            return sources.MODELS_SCOPE, sources.model_documents(self._registry())
        tenant_id = name.removeprefix(TENANT_PREFIX)
        with self._sessions() as session:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                # A deleted tenant: its scope is emptied (no orphans).
                return sources.tenant_scope(tenant_id), []
            return sources.tenant_scope(tenant_id), sources.tenant_documents(session, tenant)

    def sync_scope(self, name: str, progress: Progress | None = None) -> ScopeResult:
        """Re-index one scope: new and changed chunks embedded, removed ones deleted."""
        scope, documents = self._documents(name)
        return _result(name, self.service(wait=None).sync(scope, documents, progress=progress))

    def index_upload(self, row: KbDocument) -> int:
        """Index one uploaded document now; its chunk count."""
        document = sources.upload_document(row)
        scope = Scope(tenant_id=row.tenant_id, kinds=("upload",), sources=(document.source,))
        return self.service().sync(scope, [document]).chunks

    def remove_upload(self, *, tenant_id: str, document_id: str) -> int:
        """Delete an uploaded document's chunks; how many there were."""
        scope = Scope(tenant_id=tenant_id, kinds=("upload",), sources=(f"upload:{document_id}",))
        return self.service().sync(scope, []).deleted

    def status(self, tenant_id: str | None) -> KbStatus:
        """Chunks per kind of the platform's and of `tenant_id`'s (None: the platform's only)."""
        store = self.service().store
        documents = 0
        if tenant_id is not None:
            with self._sessions() as session:
                documents = session.execute(
                    select(func.count())
                    .select_from(KbDocument)
                    .where(KbDocument.tenant_id == tenant_id)
                ).scalar_one()
        return KbStatus(
            store="local" if store.local else "server",
            platform_chunks=store.platform_counts(),
            tenant_chunks=store.tenant_counts(tenant_id) if tenant_id is not None else {},
            documents=int(documents),
        )


def open_here(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    registry: Callable[[], ModelRegistry],
    on_export: Callable[[], None] | None = None,
) -> KnowledgeRuntime | None:
    """The knowledge base opened by this process (a command), or None when another process
    (the platform's API) holds the local store: then Temporal reaches it (RemoteKnowledge)."""
    runtime = KnowledgeRuntime(settings, sessions=sessions, registry=registry)
    try:
        runtime.service(on_export=on_export)
    except StoreUnavailable:
        return None
    return runtime
