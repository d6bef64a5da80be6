"""Agent flows: start a thread, post a message, decide on a draft, read a thread. The API (SSE),
the chat CLI and (next) Slack call these; each checks its named permission first.

A turn streams its events: the flow checks the caller and the thread before the first event
(so an HTTP caller gets a plain 403/404/409), then runs the graph in a task that writes events
to a queue. If the client goes away mid-turn the task still finishes, so the thread's
checkpoint never stops half-way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StateSnapshot

from sentimentops.agents import accounts, drafts, reports, service
from sentimentops.agents.backend import AgentError, Proposal
from sentimentops.agents.graph import RunContext, ThreadState
from sentimentops.agents.models import AgentThread
from sentimentops.agents.permissions import can_chat, can_submit_drafts
from sentimentops.agents.schemas import (
    AGENT_NAMES,
    AgentEvent,
    AgentName,
    ChatMessage,
    DecisionIn,
    DraftPlan,
    ErrorEvent,
    MessageIn,
    ThreadIn,
    ThreadOut,
)
from sentimentops.agents.toolbox import Budget, Toolbox
from sentimentops.agents.wiring import AgentRuntime
from sentimentops.core.errors import Conflict, DomainError, NotFound
from sentimentops.core.logging import get_logger
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.vocabulary import FINAL_PLAN_STATUSES, PrincipalKind
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.tools.base import ToolContext
from sentimentops.workflows import flows as plan_flows
from sentimentops.workflows.schemas import Plan, PlanAccepted, PlanDetail
from sentimentops.workflows.service import proposer_of

log = get_logger(__name__)

Payload = ThreadState | Command[Any]


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _out(row: AgentThread, snapshot: StateSnapshot | None = None) -> ThreadOut:
    values: dict[str, Any] = dict(snapshot.values) if snapshot is not None else {}
    draft = values.get("draft")
    return ThreadOut(
        id=row.id,
        agent=_agent(row),
        title=row.title,
        created_by=row.created_by,
        created_at=row.created_at,
        messages=[ChatMessage.model_validate(m) for m in values.get("messages", [])],
        draft=DraftPlan.model_validate(draft) if draft else None,
        submitted=list(values.get("submitted", [])),
    )


def _agent(row: AgentThread) -> AgentName:
    if row.agent not in AGENT_NAMES:
        raise NotFound("agent thread not found")  # a row written by a newer version
    name: AgentName = row.agent  # checked just above
    return name


def _waiting(snapshot: StateSnapshot) -> bool:
    """The thread sleeps in await_decision (a draft waits for submit / revise / drop)."""
    return bool(snapshot.interrupts) and bool(snapshot.values.get("draft"))


async def _thread(rt: AgentRuntime, principal: Principal, thread_id: str) -> AgentThread:
    return await rt.flows.read(
        lambda session: service.get_thread(session, principal=principal, thread_id=thread_id)
    )


async def create_thread_flow(rt: AgentRuntime, principal: Principal, body: ThreadIn) -> ThreadOut:
    can_chat(principal)
    row = await rt.flows.write(
        lambda session: service.create_thread(
            session, principal=principal, agent=body.agent, title=body.title
        )
    )
    return _out(row)


async def list_threads_flow(rt: AgentRuntime, principal: Principal) -> list[ThreadOut]:
    can_chat(principal)
    rows = await rt.flows.read(lambda session: service.list_threads(session, principal=principal))
    return [_out(row) for row in rows]


async def get_thread_flow(rt: AgentRuntime, principal: Principal, thread_id: str) -> ThreadOut:
    can_chat(principal)
    row = await _thread(rt, principal, thread_id)
    await _report_ended_plans(rt, principal, row)
    snapshot = await rt.graphs[_agent(row)].aget_state(_config(row.id))
    return _out(row, snapshot)


async def post_message_flow(
    rt: AgentRuntime, principal: Principal, thread_id: str, body: MessageIn
) -> AsyncIterator[AgentEvent]:
    """The agent's turn on the caller's message; while a draft waits, the message asks for a
    revision of it."""
    can_chat(principal)
    row = await _thread(rt, principal, thread_id)
    await _report_ended_plans(rt, principal, row)

    def payload(snapshot: StateSnapshot) -> Payload:
        if _waiting(snapshot):
            return Command(resume={"action": "revise", "message": body.content})
        return ThreadState(messages=[{"role": "user", "content": body.content}])

    await rt.flows.write(
        lambda session: service.record_message(
            session,
            principal=principal,
            thread_id=row.id,
            action="agent.message",
            length=len(body.content),
        )
    )
    return _events(rt, principal, row, payload, requested_by=principal.actor)


async def decide_flow(
    rt: AgentRuntime, principal: Principal, thread_id: str, body: DecisionIn
) -> AsyncIterator[AgentEvent]:
    """Submit the waiting draft as a plan (the agent its proposer, the caller the one who
    asked), or drop it. Only the revision the caller saw can be submitted."""
    if body.action == "submit":
        can_submit_drafts(principal)
    else:
        can_chat(principal)
    row = await _thread(rt, principal, thread_id)

    def payload(snapshot: StateSnapshot) -> Payload:
        if not _waiting(snapshot):
            raise Conflict("no draft of this thread waits for a decision")
        current = int(snapshot.values.get("revision", 0))
        if current != body.revision:
            raise Conflict(
                f"revision {body.revision} is not the waiting draft (revision {current})"
            )
        return Command(resume={"action": body.action})

    snapshot = await rt.graphs[_agent(row)].aget_state(_config(row.id))
    payload(snapshot)  # refused before streaming starts; checked again under the thread lock
    await rt.flows.write(
        lambda session: service.record_message(
            session,
            principal=principal,
            thread_id=row.id,
            action=f"agent.draft.{body.action}",
            length=0,
        )
    )
    return _events(rt, principal, row, payload, requested_by=principal.actor)


async def _run_context(
    rt: AgentRuntime,
    principal: Principal,
    row: AgentThread,
    emit: Callable[[AgentEvent], None],
    requested_by: str | None,
) -> RunContext:
    settings = rt.settings
    agent = _agent(row)

    def authenticate(session: Any) -> Principal:
        tenant = session.get(Tenant, principal.tenant_id)
        return accounts.agent_principal(
            session,
            settings=settings,
            tenant=tenant,
            agent=agent,
        )

    agent_principal = await rt.flows.write(authenticate)
    policy_principal = proposer_of(agent_principal).model_copy(update={"agent": agent})
    toolbox = Toolbox(
        context=ToolContext(
            settings=settings,
            sessions=rt.flows.sessions,
            policy=rt.policy,
            registry=rt.registry,
            tenant=principal.tenant,
            known_tenant_id=principal.tenant_id,
            actor=policy_principal.subject,
            knowledge=rt.knowledge,
        ),
        principal=policy_principal,
        thread_id=row.id,
        emit=emit,
        budget=Budget(
            max_tool_calls=settings.agent_max_tool_calls,
            max_seconds=settings.agent_max_seconds,
            max_tokens=settings.agent_max_tokens,
        ),
    )

    async def build_draft(proposal: Proposal, revision: int) -> tuple[DraftPlan, Plan]:
        plan = drafts.build_plan(
            proposal,
            tenant=principal.tenant,
            proposer=policy_principal,
            requested_by=requested_by,
            approval_timeout_seconds=settings.approval_ttl_seconds,
        )
        shares = await rt.flows.read(
            lambda session: service.canary_shares(session, tenant_id=principal.tenant_id)
        )
        draft = await drafts.make_draft(
            proposal, plan=plan, revision=revision, registry=rt.registry(), canary_shares=shares
        )
        await rt.flows.write(
            lambda session: service.record_proposal(
                session,
                actor=policy_principal.subject,
                tenant=principal.tenant,
                thread_id=row.id,
                draft=draft,
            )
        )
        return draft, plan

    async def submit(plan: Plan) -> PlanAccepted:
        return await plan_flows.submit_agent_plan_flow(rt.flows, principal, plan)

    return RunContext(
        agent=agent,
        tenant=principal.tenant,
        backend=rt.backend(agent),
        toolbox=toolbox,
        emit=emit,
        build_draft=build_draft,
        submit=submit,
    )


def _error_code(exc: DomainError) -> str:
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


async def _events(
    rt: AgentRuntime,
    principal: Principal,
    row: AgentThread,
    payload_for: Callable[[StateSnapshot], Payload],
    *,
    requested_by: str | None,
) -> AsyncIterator[AgentEvent]:
    queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
    graph = rt.graphs[_agent(row)]
    config = _config(row.id)

    async def drive() -> None:
        async with rt.locks[row.id]:
            try:
                payload = payload_for(await graph.aget_state(config))
                context = await _run_context(rt, principal, row, queue.put_nowait, requested_by)
                await graph.ainvoke(payload, config, context=context)
            except AgentError as exc:
                queue.put_nowait(ErrorEvent(code=exc.code, message=str(exc)))
            except DomainError as exc:
                queue.put_nowait(ErrorEvent(code=_error_code(exc), message=str(exc)))
            except Exception:
                log.exception("agent turn failed", thread_id=row.id)
                queue.put_nowait(
                    ErrorEvent(code="internal_error", message="the agent failed; see the log")
                )
            finally:
                queue.put_nowait(None)

    task = asyncio.create_task(drive())
    rt.background.add(task)
    task.add_done_callback(rt.background.discard)
    while (event := await queue.get()) is not None:
        yield event


# --- The Training Executor's reports ------------------------------------------------------------


def _production(registry: ModelRegistry, detail: PlanDetail) -> reports.Production | None:
    steps = detail.progress.steps if detail.progress is not None else []
    task = next((s.params.get("task") for s in steps if s.params and s.params.get("task")), None)
    found = registry.version_for_alias(str(task), "production") if task else None
    if found is None:
        return None
    return reports.Production(found.version, registry.version_metrics(str(task), found.version))


async def _report_ended_plans(rt: AgentRuntime, principal: Principal, row: AgentThread) -> None:
    """A training-executor thread hears how each plan it submitted ended: the evaluation
    (agents/reports.py), once per plan. Pull-based and durable: run when the thread is read and
    before each turn, recorded in the thread's state, so nothing has to watch the plans and a
    restart loses no report. While a draft waits the reports wait too (a state update would end
    the graph's wait for the decision)."""
    if _agent(row) != "training-executor":
        return
    graph = rt.graphs["training-executor"]
    config = _config(row.id)
    async with rt.locks[row.id]:
        snapshot = await graph.aget_state(config)
        if _waiting(snapshot):
            return
        done = set(snapshot.values.get("reported", []))
        for workflow_id in snapshot.values.get("submitted", []):
            if workflow_id in done:
                continue
            try:
                detail = await plan_flows.plan_detail_flow(rt.flows, principal, workflow_id)
            except DomainError as exc:  # Temporal unreachable, a reader's role: next time
                log.warning(
                    "agent.report_skipped", thread_id=row.id, plan=workflow_id, error=str(exc)
                )
                continue
            if detail.plan.status not in FINAL_PLAN_STATUSES:
                continue
            production = await asyncio.to_thread(_production, rt.registry(), detail)
            text = reports.evaluation_report(detail, production=production)
            update = {"messages": [{"role": "agent", "content": text}], "reported": [workflow_id]}
            await graph.aupdate_state(config, update, as_node="respond")


# --- The deployment sentry's incidents ----------------------------------------------------------


async def incident_thread_flow(
    rt: AgentRuntime,
    *,
    tenant: str,
    thread_id: str,
    title: str,
    facts: str,
    tenant_id: str | None = None,
    agent: AgentName = "deployment-sentry",
    requested_by: str | None = None,
) -> tuple[ThreadOut, list[AgentEvent]]:
    """Open the tenant's thread for a sentry incident and let the deployment-sentry agent answer
    its facts (`facts`: the first message; trusted workflow data that quotes telemetry). For the
    worker's sentry_incident activity only (and, with `agent` "data-curation", the curation
    flow, which checks its caller first), so no caller permission: the system writes it, every
    chatter of the tenant reads it (agents/service.py), and its draft names nobody as having
    asked for it (nobody did), so any submitter may submit it; a curation's draft names the
    person who ran the curation (`requested_by`), who alone submits it and may not approve it.
    Called again with the same `thread_id` (a retried activity), it returns the thread as the
    first call left it."""
    row = await rt.flows.write(
        lambda session: service.create_incident_thread(
            session,
            tenant=tenant,
            tenant_id=tenant_id,
            thread_id=thread_id,
            title=title,
            agent=agent,
        )
    )
    graph = rt.graphs[_agent(row)]
    snapshot = await graph.aget_state(_config(row.id))
    if snapshot.values.get("messages"):
        return _out(row, snapshot), []
    author = Principal(
        tenant_id=row.tenant_id,
        tenant=tenant,
        subject=agent,  # only the tenant context of the agent's first turn
        name=agent.replace("-", " "),
        kind=PrincipalKind.SERVICE,
        roles=frozenset(),
        method=AuthMethod.FIRST_PARTY,
    )

    def payload(_snapshot: StateSnapshot) -> Payload:
        return ThreadState(messages=[{"role": "user", "content": facts}])

    events = [e async for e in _events(rt, author, row, payload, requested_by=requested_by)]
    return _out(row, await graph.aget_state(_config(row.id))), events
