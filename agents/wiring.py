"""The agents' collaborators, opened once per process (API or CLI): the thread checkpointer
(SQLite beside the database file, or the PostgreSQL database itself), the backend settings
choose, the compiled graphs, the policy engine, and the model registry and knowledge base their
toolboxes read."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from sentimentops.agents.backend import AgentBackend, make_backend
from sentimentops.agents.graph import RunContext, ThreadState, build_graph
from sentimentops.agents.schemas import AGENT_NAMES, AgentName
from sentimentops.core.flows import FlowContext
from sentimentops.core.knowledge import KnowledgeSearch
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.policy import OpaPolicyEngine, PolicyEngine
from sentimentops.core.settings import Settings

Graph = CompiledStateGraph[ThreadState, RunContext, ThreadState, ThreadState]

# Under data_dir when the app database is SQLite: its own file, so a long conversation's
# checkpoint writes never hold the app database's write lock.
CHECKPOINT_FILE = "agent_checkpoints.sqlite"


@dataclass
class AgentRuntime:
    flows: FlowContext
    policy: PolicyEngine
    registry: Callable[[], ModelRegistry]
    graphs: dict[AgentName, Graph]
    # None: each agent's backend as settings choose (made on its first turn).
    backend_override: AgentBackend | None = None
    # The knowledge base search_kb reads, wired by the app layer (the agents layer cannot import
    # knowledge_base/); None where the process has none, and then agents cite nothing from it.
    knowledge: Callable[[], KnowledgeSearch] | None = None
    _backends: dict[AgentName, AgentBackend] = field(default_factory=dict)
    # One turn at a time per thread in this process (a second message waits for the first).
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # Turns whose client went away are finished anyway (the checkpoint stays consistent).
    background: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def settings(self) -> Settings:
        return self.flows.settings

    def backend(self, agent: AgentName) -> AgentBackend:
        if self.backend_override is not None:
            return self.backend_override
        if agent not in self._backends:
            self._backends[agent] = make_backend(self.settings, agent)
        return self._backends[agent]


def _postgres_conninfo(url: str) -> str | None:
    """psycopg's form of a SQLAlchemy PostgreSQL URL, or None for another database."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return None


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    conninfo = _postgres_conninfo(settings.resolved_database_url)
    if conninfo is not None:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(conninfo) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.data_dir / CHECKPOINT_FILE)) as saver:
        await saver.setup()
        yield saver


@asynccontextmanager
async def open_agent_runtime(
    flows: FlowContext,
    *,
    registry: Callable[[], ModelRegistry],
    policy: PolicyEngine | None = None,
    backend: AgentBackend | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    knowledge: Callable[[], KnowledgeSearch] | None = None,
) -> AsyncIterator[AgentRuntime]:
    settings = flows.settings

    def runtime(saver: BaseCheckpointSaver[Any]) -> AgentRuntime:
        return AgentRuntime(
            flows=flows,
            policy=policy or OpaPolicyEngine(settings.resolved_opa_url),
            registry=registry,
            backend_override=backend,
            graphs={name: build_graph(saver, name=name) for name in AGENT_NAMES},
            knowledge=knowledge,
        )

    if checkpointer is not None:
        yield runtime(checkpointer)
        return
    async with open_checkpointer(settings) as saver:
        made = runtime(saver)
        try:
            yield made
        finally:
            if made.background:
                await asyncio.gather(*made.background, return_exceptions=True)


class LazyAgentRuntime:
    """The API's agent runtime, opened on the first agents request (the API starts without
    importing LangGraph or opening the checkpointer) and closed with the app."""

    def __init__(
        self,
        flows: FlowContext,
        *,
        registry: Callable[[], ModelRegistry],
        policy: PolicyEngine | None = None,
        backend: AgentBackend | None = None,
        knowledge: Callable[[], KnowledgeSearch] | None = None,
    ) -> None:
        self._flows = flows
        self._registry = registry
        self._policy = policy
        self._backend = backend
        self._knowledge = knowledge
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._runtime: AgentRuntime | None = None

    async def get(self) -> AgentRuntime:
        async with self._lock:
            if self._runtime is None:
                stack = AsyncExitStack()
                self._runtime = await stack.enter_async_context(
                    open_agent_runtime(
                        self._flows,
                        registry=self._registry,
                        policy=self._policy,
                        backend=self._backend,
                        knowledge=self._knowledge,
                    )
                )
                self._stack = stack
            return self._runtime

    async def close(self) -> None:
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack, self._runtime = None, None
