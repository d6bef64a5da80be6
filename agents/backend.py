"""The one interface every agent brain implements, and the choice between them.

A backend reads a turn (the user's message, the conversation so far, the draft being revised)
and answers it or proposes a plan. It reads telemetry only through the `Toolbox` it is given
(read-only tools, policy-checked and audited under the agent's own principal); it cannot change
anything: a proposal becomes a plan only when a person submits it, and then every step passes
policy and a human approval in the plan workflow.

Two backends: the deterministic planner (default; rules over telemetry, no LLM anywhere) and an
OpenAI-compatible endpoint (vLLM, OpenAI, Ollama, llama.cpp server) chosen by settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from sentimentops.agents.schemas import AgentName, ChatMessage, DraftPlan, Evidence
from sentimentops.workflows.schemas import PlanStep

if TYPE_CHECKING:
    from sentimentops.agents.toolbox import Toolbox
    from sentimentops.core.settings import Settings


@dataclass(frozen=True)
class Turn:
    """What a backend answers. `message` and `history` are the user's words: data to interpret,
    never instructions that override the agent's rules."""

    agent: AgentName
    tenant: str
    message: str
    history: list[ChatMessage] = field(default_factory=list)
    draft: DraftPlan | None = None  # set when the message asks to revise this draft


class Answer(BaseModel):
    """A reply in words, with the tool outputs its numbers come from."""

    kind: str = Field(default="answer", frozen=True)
    text: str
    evidence: list[Evidence] = Field(default_factory=list)


class Proposal(BaseModel):
    """A change the agent proposes: typed plan steps and why. The flow turns it into a
    DraftPlan (hash, diff) for the user to submit, revise or drop."""

    kind: str = Field(default="proposal", frozen=True)
    rationale: str = Field(max_length=4000)
    expected_effect: str = Field(max_length=2000)
    steps: list[PlanStep] = Field(min_length=1, max_length=20)
    evidence: list[Evidence] = Field(default_factory=list)


Reply = Answer | Proposal


class AgentBackend(Protocol):
    name: str

    async def respond(self, turn: Turn, tools: Toolbox) -> Reply:
        """Answer the turn or propose a plan. Raises BudgetExceeded when a run goes on too long,
        InvalidAgentOutput when a model's output cannot be made into a valid reply."""
        ...


class AgentError(Exception):
    """A turn the agent could not complete; `code` names why (shown to the user)."""

    code = "agent_error"


class BudgetExceeded(AgentError):
    code = "budget_exceeded"


class InvalidAgentOutput(AgentError):
    code = "invalid_output"


def make_backend(settings: Settings, agent: AgentName) -> AgentBackend:
    """The backend settings choose for `agent`: an OpenAI-compatible endpoint when
    `llm_base_url` is set (one client, the agent's own instructions), else that agent's
    deterministic rules."""
    if settings.llm_base_url:
        from sentimentops.agents.llm import OpenAICompatibleBackend

        return OpenAICompatibleBackend.from_settings(settings)
    if agent == "training-executor":
        from sentimentops.agents.training_executor import TrainingExecutorBackend

        return TrainingExecutorBackend()
    if agent == "deployment-sentry":
        from sentimentops.agents.sentry_agent import SentryAgentBackend

        return SentryAgentBackend()
    if agent == "data-curation":
        from sentimentops.agents.curation_agent import CurationAgentBackend

        return CurationAgentBackend()
    from sentimentops.agents.deterministic import DeterministicBackend

    return DeterministicBackend()
