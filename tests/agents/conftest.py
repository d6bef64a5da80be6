"""Fixtures of the agent tests: the real platform (Temporal, OPA, the database, an MLflow
registry) from tests/workflows, a real knowledge base over the repository's docs (the encoder
of tests/knowledge_base), and what the LLM backend's tests add to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest
from qdrant_client import QdrantClient

from sentimentops.agents.schemas import AgentEvent
from sentimentops.agents.toolbox import Budget, Toolbox
from sentimentops.core.knowledge import KnowledgeSearch
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.knowledge_base import sources
from sentimentops.knowledge_base.embedding import Encoder
from sentimentops.knowledge_base.service import KnowledgeService
from sentimentops.knowledge_base.store import KnowledgeStore
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from sentimentops.tools.base import ToolContext
from tests.agents.openai_server import ScriptedOpenAIServer, scripted_openai_server
from tests.knowledge_base.conftest import encoder, encoder_file
from tests.workflows.conftest import Platform, app_sessions, platform, receiver

__all__ = ["app_sessions", "encoder", "encoder_file", "platform", "receiver"]


# --- The knowledge base -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docs_knowledge(
    encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KnowledgeService]:
    """A knowledge base holding the repository's docs as the platform indexes them, once per
    session (embedding them takes seconds); tenants' documents go in beside them, each tenant's
    found by it alone."""
    folder: Path = tmp_path_factory.mktemp("agents-kb")
    store = KnowledgeStore(QdrantClient(path=str(folder / "qdrant")), local=True)
    service = KnowledgeService(store, encoder)
    assert service.sync(sources.DOCS_SCOPE, sources.platform_docs()).chunks > 0
    yield service
    store.close()


def knowledge_runtime(platform: Platform, service: KnowledgeService) -> KnowledgeRuntime:
    """The platform's knowledge base runtime (uploads, indexing) over the shared store."""
    return KnowledgeRuntime(
        platform.settings,
        sessions=platform.sessions,
        registry=lambda: platform.registry,
        service=service,
    )


# --- The OpenAI-compatible backend (tests/agents/test_llm_backend.py) ----------------------------

AGENT_SUBJECT = "agent:test"


def agent_principal(tenant: str) -> PolicyPrincipal:
    return PolicyPrincipal(
        subject=AGENT_SUBJECT, kind="agent", roles=["agent"], tenant=tenant, agent="planner"
    )


def agent_toolbox(
    platform: Platform,
    opa_url: str,
    events: list[AgentEvent],
    budget: Budget | None = None,
    knowledge: Callable[[], KnowledgeSearch] | None = None,
) -> Toolbox:
    """A Toolbox over the platform's real database, OPA, registry and (given one) knowledge
    base, acting as the agent."""
    return Toolbox(
        context=ToolContext(
            settings=platform.settings,
            sessions=platform.sessions,
            policy=OpaPolicyEngine(opa_url),
            registry=lambda: platform.registry,
            tenant=platform.tenant.slug,
            actor=AGENT_SUBJECT,
            knowledge=knowledge,
        ),
        principal=agent_principal(platform.tenant.slug),
        thread_id="thread-test",
        emit=events.append,
        budget=budget,
    )


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    with scripted_openai_server() as server:
        yield server


# --- The deterministic planner's scenario suite (tests/agents/test_scenarios.py) -----------------


class ToolboxFactory(Protocol):
    def __call__(
        self,
        *,
        tenant: str,
        subject: str,
        events: list[AgentEvent],
        roles: Sequence[str] = ("agent",),
        budget: Budget | None = None,
    ) -> Toolbox: ...


@pytest.fixture
def toolbox_factory(
    platform: Platform, opa_url: str, docs_knowledge: KnowledgeService
) -> ToolboxFactory:
    """Toolboxes over the platform's real database, OPA, registry and the docs' knowledge base
    for any tenant, agent subject (each has its own hourly budget in policy) and roles (a role
    without a tool shows the policy's refusal)."""
    policy = OpaPolicyEngine(opa_url)

    def make(
        *,
        tenant: str,
        subject: str,
        events: list[AgentEvent],
        roles: Sequence[str] = ("agent",),
        budget: Budget | None = None,
    ) -> Toolbox:
        return Toolbox(
            context=ToolContext(
                settings=platform.settings,
                sessions=platform.sessions,
                policy=policy,
                registry=lambda: platform.registry,
                tenant=tenant,
                actor=subject,
                knowledge=lambda: docs_knowledge,
            ),
            principal=PolicyPrincipal(
                subject=subject, kind="agent", roles=list(roles), tenant=tenant, agent="planner"
            ),
            thread_id=f"thread-{subject}",
            emit=events.append,
            budget=budget,
        )

    return make
