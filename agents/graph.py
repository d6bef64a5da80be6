"""The agents' LangGraph: one StateGraph, compiled once per agent, checkpointed per thread.

    START -> respond --(a draft waits)--> await_decision --submit--> END
                    \\--(an answer)--> END          |--drop----> END
                                                    \\--revise--> respond

`respond` asks the backend (deterministic planner or an LLM) to answer the user's newest message
or to propose a plan, which becomes a draft. `await_decision` is LangGraph's human-in-the-loop
interrupt: the thread sleeps in the checkpointer (across API restarts) until the user submits,
revises (a new message) or drops the draft. Submitting starts the plan workflow with the agent as
proposer; from there OPA and a human approval decide every step, as for any plan.

The state holds JSON values only, so any checkpointer stores it as is."""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from sentimentops.agents.backend import AgentBackend, Answer, Proposal, Turn
from sentimentops.agents.schemas import (
    AgentEvent,
    AgentName,
    AnswerEvent,
    ChatMessage,
    DraftPlan,
    DraftPlanEvent,
    DroppedEvent,
    SubmittedEvent,
)
from sentimentops.agents.toolbox import Toolbox
from sentimentops.workflows.schemas import Plan, PlanAccepted

# The backend sees this many earlier messages (a long thread does not grow the prompt forever).
HISTORY_MESSAGES = 20


class ThreadState(TypedDict, total=False):
    messages: Annotated[list[dict[str, str]], operator.add]
    draft: dict[str, Any] | None  # DraftPlan, while it waits for a decision
    plan: dict[str, Any] | None  # the Plan the draft submits (its hash is the draft's)
    revision: int
    submitted: Annotated[list[str], operator.add]  # workflow ids
    reported: Annotated[list[str], operator.add]  # submitted plans whose end the thread was told


@dataclass(frozen=True)
class RunContext:
    """Collaborators of one run (LangGraph's runtime context: never checkpointed)."""

    agent: AgentName
    tenant: str
    backend: AgentBackend
    toolbox: Toolbox
    emit: Callable[[AgentEvent], None]
    build_draft: Callable[[Proposal, int], Awaitable[tuple[DraftPlan, Plan]]]
    submit: Callable[[Plan], Awaitable[PlanAccepted]]


def _message(role: Literal["user", "agent"], content: str) -> dict[str, str]:
    return {"role": role, "content": content}


async def respond(state: ThreadState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    run = runtime.context
    messages = state.get("messages", [])
    draft = state.get("draft")
    turn = Turn(
        agent=run.agent,
        tenant=run.tenant,
        message=messages[-1]["content"],
        history=[ChatMessage.model_validate(m) for m in messages[:-1][-HISTORY_MESSAGES:]],
        draft=DraftPlan.model_validate(draft) if draft else None,
    )
    reply = await run.backend.respond(turn, run.toolbox)
    if isinstance(reply, Answer):
        run.emit(AnswerEvent(text=reply.text, evidence=reply.evidence))
        # A question asked while a draft waits leaves the draft waiting.
        return {"messages": [_message("agent", reply.text)]}
    revision = state.get("revision", 0) + 1
    new_draft, plan = await run.build_draft(reply, revision)
    run.emit(DraftPlanEvent(draft=new_draft))
    summary = f"Draft plan (revision {revision}): {reply.rationale}"
    return {
        "messages": [_message("agent", summary)],
        "draft": new_draft.model_dump(mode="json"),
        "plan": plan.model_dump(mode="json"),
        "revision": revision,
    }


def after_respond(state: ThreadState) -> str:
    return "await_decision" if state.get("draft") else END


async def await_decision(state: ThreadState, runtime: Runtime[RunContext]) -> Command[str]:
    """Wait for the user. Resumed with {"action": "revise", "message": ...},
    {"action": "drop"} or {"action": "submit"} (the flow checked the revision already)."""
    decision: dict[str, Any] = interrupt({"revision": state.get("revision", 0)})
    run = runtime.context
    action = decision.get("action")
    if action == "revise":
        return Command(
            goto="respond", update={"messages": [_message("user", str(decision["message"]))]}
        )
    revision = state.get("revision", 0)
    if action == "drop":
        run.emit(DroppedEvent(revision=revision))
        return Command(
            goto=END,
            update={
                "draft": None,
                "plan": None,
                "messages": [_message("agent", f"Draft revision {revision} dropped.")],
            },
        )
    plan = Plan.model_validate(state.get("plan"))
    accepted = await run.submit(plan)
    run.emit(SubmittedEvent(plan=accepted))
    text = (
        f"Draft revision {revision} submitted as plan {accepted.workflow_id} "
        f"(hash {accepted.plan_hash[:12]}); its state-changing steps wait for a human approval."
    )
    return Command(
        goto=END,
        update={
            "draft": None,
            "plan": None,
            "submitted": [accepted.workflow_id],
            "messages": [_message("agent", text)],
        },
    )


def build_graph(
    checkpointer: BaseCheckpointSaver[Any], *, name: str
) -> CompiledStateGraph[ThreadState, RunContext, ThreadState, ThreadState]:
    graph = StateGraph(ThreadState, context_schema=RunContext)
    graph.add_node("respond", respond)
    graph.add_node("await_decision", await_decision, destinations=("respond", END))
    graph.add_edge(START, "respond")
    graph.add_conditional_edges("respond", after_respond)
    return graph.compile(checkpointer=checkpointer, name=name)
