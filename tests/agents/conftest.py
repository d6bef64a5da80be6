"""Fixtures of the agent tests: the real platform (Temporal, OPA, the database, an MLflow
registry) from tests/workflows, and what the LLM backend's tests add to it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pytest

from sentimentops.agents.schemas import AgentEvent
from sentimentops.agents.toolbox import Budget, Toolbox
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.tools.base import ToolContext
from tests.agents.openai_server import ScriptedOpenAIServer, scripted_openai_server
from tests.workflows.conftest import Platform, app_sessions, platform, receiver

__all__ = ["app_sessions", "platform", "receiver"]

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
def toolbox_factory(platform: Platform, opa_url: str) -> ToolboxFactory:
    """Toolboxes over the platform's real database, OPA and registry for any tenant, agent
    subject (each has its own hourly budget in policy) and roles (a role without a tool shows
    the policy's refusal)."""
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
            ),
            principal=PolicyPrincipal(
                subject=subject, kind="agent", roles=list(roles), tenant=tenant, agent="planner"
            ),
            thread_id=f"thread-{subject}",
            emit=events.append,
            budget=budget,
        )

    return make
