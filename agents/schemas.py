"""What agents say and what callers send them: the typed events of a turn (streamed as
server-sent events and rendered by `sentimentops chat`), draft plans, and the threads API's
request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentimentops.workflows.schemas import PlanAccepted, PlanStep

AgentName = Literal["planner", "training-executor", "deployment-sentry", "data-curation"]
AGENT_NAMES: tuple[AgentName, ...] = (
    "planner",
    "training-executor",
    "deployment-sentry",
    "data-curation",
)

MAX_MESSAGE_CHARS = 4000


class Evidence(BaseModel):
    """A tool output the agent read, quoted: what an answer or a draft rests on."""

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    summary: str  # one line a person can check against `data`
    data: dict[str, Any] = Field(default_factory=dict)


class DraftPlan(BaseModel):
    """A plan an agent proposes and a person submits, revises or drops. `plan_hash` is the hash
    the plan will carry once submitted (the agent is its proposer), so each revision has its own."""

    revision: int = Field(ge=1)
    plan_hash: str
    rationale: str
    expected_effect: str
    steps: list[PlanStep]
    evidence: list[Evidence] = Field(default_factory=list)
    # What changes if the plan runs, readable: "sarcasm production: v3 -> the new version".
    diff: list[str] = Field(default_factory=list)


# --- Events of a turn ------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThinkingEvent(_Event):
    type: Literal["thinking"] = "thinking"
    text: str  # what the agent is about to do, e.g. "reading sarcasm latency"


class ToolCallEvent(_Event):
    type: Literal["tool_call"] = "tool_call"
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    tool: str
    ok: bool
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class RetrievalEvent(_Event):
    type: Literal["retrieval"] = "retrieval"
    query: str
    sources: list[str] = Field(default_factory=list)


class DraftPlanEvent(_Event):
    type: Literal["draft_plan"] = "draft_plan"
    draft: DraftPlan


class AnswerEvent(_Event):
    type: Literal["answer"] = "answer"
    text: str
    evidence: list[Evidence] = Field(default_factory=list)


class SubmittedEvent(_Event):
    type: Literal["submitted"] = "submitted"
    plan: PlanAccepted


class DroppedEvent(_Event):
    type: Literal["dropped"] = "dropped"
    revision: int


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    code: str
    message: str


AgentEvent = Annotated[
    ThinkingEvent
    | ToolCallEvent
    | ToolResultEvent
    | RetrievalEvent
    | DraftPlanEvent
    | AnswerEvent
    | SubmittedEvent
    | DroppedEvent
    | ErrorEvent,
    Field(discriminator="type"),
]


# --- Threads API ---------------------------------------------------------------------------


class ThreadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentName = "planner"
    title: str | None = Field(default=None, max_length=200)


class MessageIn(BaseModel):
    """A user's message. While a draft waits, a message asks for a revision of it."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class DecisionIn(BaseModel):
    """The user's answer to the waiting draft: submit it as a plan, or drop it."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["submit", "drop"]
    # The revision the user looked at: a submit of an older one is refused (Conflict).
    revision: int = Field(ge=1)


class ChatMessage(BaseModel):
    role: Literal["user", "agent"]
    content: str


class ThreadOut(BaseModel):
    id: str
    agent: AgentName
    title: str | None
    created_by: str
    created_at: datetime
    messages: list[ChatMessage] = Field(default_factory=list)
    draft: DraftPlan | None = None  # the draft waiting for submit / revise / drop
    submitted: list[str] = Field(default_factory=list)  # workflow ids of submitted drafts
