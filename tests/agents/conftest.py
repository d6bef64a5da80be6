"""Fixtures of the agent tests: the real platform (Temporal, OPA, the database, an MLflow
registry) from tests/workflows, and what the LLM backend's tests add to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sentimentops.agents.schemas import AgentEvent
from sentimentops.agents.toolbox import Budget, Toolbox
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.tools.base import ToolContext
from tests.agents.openai_server import ScriptedOpenAIServer, scripted_openai_server
from tests.workflows.conftest import Platform, app_sessions, platform

__all__ = ["app_sessions", "platform"]

# --- The OpenAI-compatible backend (tests/agents/test_llm_backend.py) ----------------------------

AGENT_SUBJECT = "agent:test"


def agent_principal(tenant: str) -> PolicyPrincipal:
    return PolicyPrincipal(
        subject=AGENT_SUBJECT, kind="agent", roles=["agent"], tenant=tenant, agent="planner"
    )


def agent_toolbox(
    platform: Platform, opa_url: str, events: list[AgentEvent], budget: Budget | None = None
) -> Toolbox:
    """A Toolbox over the platform's real database, OPA and registry, acting as the agent."""
    return Toolbox(
        context=ToolContext(
            settings=platform.settings,
            sessions=platform.sessions,
            policy=OpaPolicyEngine(opa_url),
            registry=lambda: platform.registry,
            tenant=platform.tenant.slug,
            actor=AGENT_SUBJECT,
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
