"""The Slack app wired to the floors above approvals (docs/adr/0004): the planner's threads
through agents/flows.py (PlannerChat) and the plans' progress through the plan workflow's
query, falling back to the plan registry (PlanWatch). The API (`create_app`, HTTP events) and
`sentimentops slack` (Socket Mode) build it here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowQueryFailedError

from sentimentops.agents import flows as agent_flows
from sentimentops.agents.schemas import (
    AgentEvent,
    AnswerEvent,
    DecisionIn,
    DraftPlan,
    DraftPlanEvent,
    DroppedEvent,
    ErrorEvent,
    MessageIn,
    RetrievalEvent,
    SubmittedEvent,
    ThinkingEvent,
    ThreadIn,
    ToolCallEvent,
    ToolResultEvent,
)
from sentimentops.agents.wiring import AgentRuntime
from sentimentops.approvals.slack.app import SlackApp, build_slack_app
from sentimentops.approvals.slack.ports import (
    Answer,
    ChatEvent,
    Draft,
    DraftView,
    Dropped,
    Failed,
    FinishedPlan,
    PlanState,
    Progress,
    StepView,
    Submitted,
)
from sentimentops.core.errors import DomainError, temporal_errors
from sentimentops.core.flows import FlowContext
from sentimentops.core.policy import PolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import FINAL_PLAN_STATUSES
from sentimentops.identity.principal import Principal
from sentimentops.workflows.client import plan_progress, sentry_workflow_id
from sentimentops.workflows.models import PlanExecution

# A progress query is answered by a worker; the updater polls again soon, so it waits little.
QUERY_TIMEOUT = timedelta(seconds=5)


def draft_view(thread_id: str, draft: DraftPlan) -> DraftView:
    steps: list[StepView] = []
    for step in draft.steps:
        steps.append(StepView(tool=step.tool, params=step.params))
        steps += [
            StepView(tool=f.tool, params=f.params, fallback=True) for f in step.on_gate_failure
        ]
    return DraftView(
        thread_id=thread_id,
        revision=draft.revision,
        plan_hash=draft.plan_hash,
        rationale=draft.rationale,
        expected_effect=draft.expected_effect,
        steps=steps,
        diff=list(draft.diff),
        evidence=[e.summary for e in draft.evidence],
    )


def chat_event(thread_id: str, event: AgentEvent) -> ChatEvent:
    """An agent's event as the Slack app shows it."""
    if isinstance(event, ThinkingEvent):
        return Progress(event.text)
    if isinstance(event, ToolCallEvent):
        params = json.dumps(event.params, sort_keys=True, default=str)
        return Progress(f"calling {event.tool} {params}")
    if isinstance(event, ToolResultEvent):
        return Progress(f"{event.tool}: {event.summary}" if event.ok else f"{event.tool} failed")
    if isinstance(event, RetrievalEvent):
        found = ", ".join(event.sources) or "nothing"
        return Progress(f"searched the knowledge base: {found}")
    if isinstance(event, DraftPlanEvent):
        return Draft(draft_view(thread_id, event.draft))
    if isinstance(event, AnswerEvent):
        return Answer(event.text, [e.summary for e in event.evidence])
    if isinstance(event, SubmittedEvent):
        return Submitted(event.plan.workflow_id, event.plan.plan_hash)
    if isinstance(event, DroppedEvent):
        return Dropped(event.revision)
    if isinstance(event, ErrorEvent):
        return Failed(event.code, event.message)
    raise TypeError(f"unknown agent event {type(event).__name__}")


async def _converted(thread_id: str, events: AsyncIterator[AgentEvent]) -> AsyncIterator[ChatEvent]:
    async for event in events:
        yield chat_event(thread_id, event)


class AgentChat:
    """PlannerChat over agents/flows.py (the same flows as the API's threads)."""

    def __init__(self, runtime: Callable[[], Awaitable[AgentRuntime]]) -> None:
        self._runtime = runtime

    async def open_thread(self, principal: Principal, title: str) -> str:
        thread = await agent_flows.create_thread_flow(
            await self._runtime(), principal, ThreadIn(title=title)
        )
        return thread.id

    async def post(
        self, principal: Principal, thread_id: str, text: str
    ) -> AsyncIterator[ChatEvent]:
        events = await agent_flows.post_message_flow(
            await self._runtime(), principal, thread_id, MessageIn(content=text)
        )
        return _converted(thread_id, events)

    async def decide(
        self,
        principal: Principal,
        thread_id: str,
        action: Literal["submit", "drop"],
        revision: int,
    ) -> AsyncIterator[ChatEvent]:
        events = await agent_flows.decide_flow(
            await self._runtime(),
            principal,
            thread_id,
            DecisionIn(action=action, revision=revision),
        )
        return _converted(thread_id, events)


class WorkflowPlanWatch:
    """PlanWatch: the plan workflow's progress query; the plan registry's row when no worker
    answers (the query needs one) or the workflow is gone from Temporal."""

    def __init__(self, flows: FlowContext) -> None:
        self._flows = flows

    async def state(self, workflow_id: str) -> PlanState | None:
        try:
            with temporal_errors(f"reading plan {workflow_id}"):
                client = await self._flows.temporal()
                progress = await plan_progress(client, workflow_id, rpc_timeout=QUERY_TIMEOUT)
        except (DomainError, WorkflowQueryFailedError):
            row = await self._flows.read(lambda session: session.get(PlanExecution, workflow_id))
            if row is None:
                return None
            return PlanState(
                status=row.status, final=row.status in FINAL_PLAN_STATUSES, message=row.message
            )
        current = progress.current_step
        step = next((s for s in progress.steps if s.index == current), None)
        rolled_back = any(
            s.fallback_of is not None and s.status == "succeeded" for s in progress.steps
        )
        return PlanState(
            status=progress.status,
            final=progress.status in FINAL_PLAN_STATUSES,
            current_step=current,
            steps=sum(1 for s in progress.steps if s.fallback_of is None),
            current_tool=step.tool if step is not None else None,
            rolled_back=rolled_back,
            message=progress.message,
        )

    async def finished(self, *, tenant_ids: list[str], limit: int) -> list[FinishedPlan]:
        def read(session: Session) -> list[FinishedPlan]:
            query = (
                select(PlanExecution)
                .where(
                    PlanExecution.tenant_id.in_(tenant_ids),
                    PlanExecution.finished_at.is_not(None),
                    # The deployment sentry's checks (`sentry-{tenant}-{task}-check-N`) run all
                    # day: a breach or rollback is its own notice (IncidentNotice), a pass none.
                    PlanExecution.id.not_like(f"{sentry_workflow_id('%', '%')}-check-%"),
                )
                .order_by(PlanExecution.finished_at.desc())
                .limit(limit)
            )
            return [
                FinishedPlan(
                    workflow_id=row.id,
                    tenant_id=row.tenant_id,
                    status=row.status,
                    message=row.message,
                    rationale=row.rationale,
                    # SQLite returns naive datetimes; every stored time is UTC.
                    finished_at=row.finished_at.replace(tzinfo=row.finished_at.tzinfo or UTC),
                )
                for row in session.execute(query).scalars()
                if row.finished_at is not None
            ]

        return await self._flows.read(read)


def build_slack(
    settings: Settings,
    flows: FlowContext,
    *,
    agents: Callable[[], Awaitable[AgentRuntime]] | None,
    policy: PolicyEngine | None = None,
    socket_mode: bool = False,
) -> SlackApp:
    """The Slack app of this process; `agents` None: approvals only, no chat."""
    return build_slack_app(
        settings,
        flows,
        plans=WorkflowPlanWatch(flows),
        chat=AgentChat(agents) if agents is not None else None,
        policy=policy,
        socket_mode=socket_mode,
    )
