"""What the Slack app needs from the floors above approvals (docs/adr/0004): the agents' threads
(PlannerChat) and the plans' progress (PlanWatch), in the app's own plain shapes. The app layer
(app/slack.py) implements both over agents/flows.py and the plan workflow; tests may too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sentimentops.identity.principal import Principal


@dataclass(frozen=True)
class StepView:
    tool: str
    params: dict[str, Any]
    fallback: bool = False  # runs only if the step before it fails its gate


@dataclass(frozen=True)
class DraftView:
    """A draft plan waiting in an agent thread for submit or drop."""

    thread_id: str
    revision: int
    plan_hash: str
    rationale: str
    expected_effect: str
    steps: list[StepView]
    diff: list[str]
    evidence: list[str] = field(default_factory=list)  # one line per tool output it rests on


@dataclass(frozen=True)
class Progress:
    """A step the agent takes (a read, a search): shown in the turn's one progress message."""

    text: str


@dataclass(frozen=True)
class Answer:
    text: str
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    draft: DraftView


@dataclass(frozen=True)
class Submitted:
    workflow_id: str
    plan_hash: str


@dataclass(frozen=True)
class Dropped:
    revision: int


@dataclass(frozen=True)
class Failed:
    code: str
    message: str


ChatEvent = Progress | Answer | Draft | Submitted | Dropped | Failed


class PlannerChat(Protocol):
    """The planner's threads as the caller (a linked Slack user's principal) may use them; each
    method checks the caller's permission before anything streams (core.errors otherwise)."""

    async def open_thread(self, principal: Principal, title: str) -> str: ...

    async def post(
        self, principal: Principal, thread_id: str, text: str
    ) -> AsyncIterator[ChatEvent]: ...

    async def decide(
        self,
        principal: Principal,
        thread_id: str,
        action: Literal["submit", "drop"],
        revision: int,
    ) -> AsyncIterator[ChatEvent]: ...


@dataclass(frozen=True)
class PlanState:
    """Where a plan is, for a person: status, the step running, whether a rollback ran."""

    status: str  # running | waiting_approval | completed | failed | rejected | … (PlanStatus)
    final: bool
    current_step: int | None = None  # 0-based
    steps: int = 0
    current_tool: str | None = None
    rolled_back: bool = False
    message: str = ""


@dataclass(frozen=True)
class FinishedPlan:
    """A plan of the registry that has ended."""

    workflow_id: str
    tenant_id: str
    status: str
    message: str
    rationale: str
    finished_at: datetime


class PlanWatch(Protocol):
    async def state(self, workflow_id: str) -> PlanState | None:
        """None: the plan is not known (yet)."""
        ...

    async def finished(self, *, tenant_ids: list[str], limit: int) -> list[FinishedPlan]:
        """The tenants' most recently finished plans, newest first, at most `limit`."""
        ...
