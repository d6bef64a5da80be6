"""/api/v1/agents/threads: talk to the platform's agents. A message's answer streams as
server-sent events, one typed event per step the agent takes (tool call, its result, draft plan,
answer, error); `POST …/decision` submits or drops the waiting draft. Handlers are thin: each
calls one flow (agents/flows.py), which checks the permission and does the work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter

from sentimentops.agents import flows
from sentimentops.agents.schemas import AgentEvent, DecisionIn, MessageIn, ThreadIn, ThreadOut
from sentimentops.agents.wiring import AgentRuntime, LazyAgentRuntime
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal

AGENTS_PATH = "/api/v1/agents"

router = APIRouter(prefix=AGENTS_PATH, tags=["agents"], dependencies=[AUTHENTICATED])

ThreadId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
_EVENT = TypeAdapter(AgentEvent)
# The schema of each `data:` line of the stream, for clients (OpenAPI has no SSE vocabulary).
SSE_RESPONSE = {
    200: {
        "description": "Server-sent events: `event: <type>` and `data: <AgentEvent JSON>` per "
        "step; the stream ends after an answer, a draft plan, a submission or an error.",
        "content": {"text/event-stream": {"schema": _EVENT.json_schema()}},
    }
}


async def get_agents(request: Request) -> AgentRuntime:
    lazy: LazyAgentRuntime = request.app.state.agents
    return await lazy.get()


AgentsDep = Annotated[AgentRuntime, Depends(get_agents)]


async def _sse(events: AsyncIterator[AgentEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        data = _EVENT.dump_json(event).decode()
        yield f"event: {event.type}\ndata: {data}\n\n".encode()


def _stream(events: AsyncIterator[AgentEvent]) -> StreamingResponse:
    # No proxy buffering: each event must reach the user as the agent takes the step.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_sse(events), media_type="text/event-stream", headers=headers)


@router.post("/threads", status_code=201, operation_id="agents-create_thread")
async def create_thread(body: ThreadIn, principal: CurrentPrincipal, rt: AgentsDep) -> ThreadOut:
    """Start a conversation with an agent (the planner by default)."""
    return await flows.create_thread_flow(rt, principal, body)


@router.get("/threads", operation_id="agents-list_threads")
async def list_threads(principal: CurrentPrincipal, rt: AgentsDep) -> list[ThreadOut]:
    """The caller's threads, most recently active first (without their messages)."""
    return await flows.list_threads_flow(rt, principal)


@router.get("/threads/{thread_id}", operation_id="agents-get_thread")
async def get_thread(thread_id: ThreadId, principal: CurrentPrincipal, rt: AgentsDep) -> ThreadOut:
    """A thread with its messages and the draft waiting for a decision, if any."""
    return await flows.get_thread_flow(rt, principal, thread_id)


@router.post(
    "/threads/{thread_id}/messages",
    operation_id="agents-post_message",
    response_class=StreamingResponse,
    responses=SSE_RESPONSE,  # type: ignore[arg-type]
)
async def post_message(
    thread_id: ThreadId, body: MessageIn, principal: CurrentPrincipal, rt: AgentsDep
) -> StreamingResponse:
    """Ask the agent; while a draft waits, the message asks for a revision of it."""
    return _stream(await flows.post_message_flow(rt, principal, thread_id, body))


@router.post(
    "/threads/{thread_id}/decision",
    operation_id="agents-decide",
    response_class=StreamingResponse,
    responses=SSE_RESPONSE,  # type: ignore[arg-type]
)
async def decide(
    thread_id: ThreadId, body: DecisionIn, principal: CurrentPrincipal, rt: AgentsDep
) -> StreamingResponse:
    """Submit the waiting draft as a plan (its steps then wait for a human approval) or drop it."""
    return _stream(await flows.decide_flow(rt, principal, thread_id, body))
