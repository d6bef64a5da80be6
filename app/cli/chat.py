"""`sentimentops chat`: talk to the planner (or another agent) in the terminal.

Each step the agent takes is printed as it happens (tool call, its result, the draft plan with
what it would change, the answer). While a draft waits, type `/submit` to start it as a plan (its
state-changing steps then wait for a human approval, from someone else), `/drop` to discard it,
or write what to change. The thread is kept in the platform's checkpointer: `--thread ID` goes
back to it later, after a restart too. The agents search the knowledge base as `sentimentops kb`
does: through the process that holds it while the platform runs, else opened here."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    cli_sessions,
    console,
    err_console,
    fail,
    load_settings,
    operator_principal,
    run_flow,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sentimentops.agents.schemas import AgentEvent, DraftPlan
    from sentimentops.agents.wiring import AgentRuntime
    from sentimentops.core.knowledge import KbHit, KbKind, KnowledgeSearch
    from sentimentops.core.model_registry import ModelRegistry
    from sentimentops.core.settings import Settings
    from sentimentops.identity.principal import Principal
    from sentimentops.knowledge_base.wiring import KnowledgeRuntime

ChatRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
HELP = (
    "Type a request or a question. While a draft plan waits: /submit, /drop, or say what to "
    "change. /draft shows it again, /quit ends (the thread is kept)."
)


def _render(event: AgentEvent, *, as_json: bool) -> None:
    from rich.markup import escape

    from sentimentops.agents import schemas as ev

    if as_json:
        sys.stdout.write(event.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    match event:
        case ev.ToolCallEvent():
            console.print(f"[dim]→ {escape(event.tool)} {escape(str(event.params))}[/dim]")
        case ev.ToolResultEvent():
            mark = "[green]✓[/green]" if event.ok else "[red]✗[/red]"
            console.print(f"  {mark} [dim]{escape(event.summary)}[/dim]")
        case ev.RetrievalEvent():
            found = "; ".join(event.sources) or "nothing found"
            console.print(f"[dim]→ searched the knowledge base: {escape(found)}[/dim]")
        case ev.ThinkingEvent():
            console.print(f"[dim]{escape(event.text)}[/dim]")
        case ev.AnswerEvent():
            console.print(escape(event.text))
        case ev.DraftPlanEvent():
            _render_draft(event.draft)
        case ev.SubmittedEvent():
            plan = event.plan
            console.print(
                f"[green]Submitted[/green] as plan [bold]{plan.workflow_id}[/bold] "
                f"(hash {plan.plan_hash[:12]}). Its state-changing steps wait for a human "
                "approval: `sentimentops approvals list`; follow it with "
                f"`sentimentops workflows show {plan.workflow_id}`."
            )
            if plan.workflow_url:
                console.print(f"Temporal web UI: {plan.workflow_url}")
        case ev.DroppedEvent():
            console.print(f"Draft revision {event.revision} dropped.")
        case ev.ErrorEvent():
            console.print(f"[red]{escape(event.code)}:[/red] {escape(event.message)}")


def _render_draft(draft: DraftPlan) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"\n[bold]Draft plan, revision {draft.revision}[/bold]")
    console.print(f"Why: {escape(draft.rationale)}")
    console.print(f"Expected effect: {escape(draft.expected_effect)}")
    table = Table("#", "tool", "params", box=None, pad_edge=False)
    for index, step in enumerate(draft.steps):
        table.add_row(str(index), step.tool, escape(str(step.params)))
    console.print(table)
    console.print("What changes:")
    for line in draft.diff:
        console.print(f"  • {escape(line)}")
    if draft.evidence:
        console.print("Evidence:")
        for item in draft.evidence:
            console.print(f"  • [dim]{escape(item.summary)}[/dim]")
    console.print(f"[dim]plan hash {draft.plan_hash}[/dim]")
    console.print("[bold]/submit[/bold], [bold]/drop[/bold], or say what to change.\n")


class _ChatKnowledge:
    """The knowledge base of the chat's agents (a KnowledgeSearch), chosen on the first search,
    so a chat that never searches opens nothing: the local store when no other process holds
    it, else the process that does (the API, while the platform runs), through Temporal."""

    def __init__(self, settings: Settings, registry: ModelRegistry, *, quiet: bool) -> None:
        self._settings = settings
        self._registry = registry
        self._quiet = quiet
        # Two turns never race to open the store.
        self._lock = asyncio.Lock()
        self._chosen: KnowledgeSearch | None = None
        self._local: KnowledgeRuntime | None = None

    async def search(
        self,
        *,
        tenant_id: str,
        query: str,
        limit: int = 5,
        kinds: tuple[KbKind, ...] | None = None,
    ) -> list[KbHit]:
        chosen = await self._choose()
        return await chosen.search(tenant_id=tenant_id, query=query, limit=limit, kinds=kinds)

    async def _choose(self) -> KnowledgeSearch:
        from sentimentops.knowledge_base.workflow import RemoteKnowledge

        async with self._lock:
            if self._chosen is None:
                local = await asyncio.to_thread(self._open_local)
                self._chosen = local if local is not None else RemoteKnowledge(self._settings)
            return self._chosen

    def _open_local(self) -> KnowledgeRuntime | None:
        from sentimentops.app.cli.kb import EXPORTING
        from sentimentops.knowledge_base.wiring import open_here

        registry = self._registry
        self._local = open_here(
            self._settings,
            sessions=cli_sessions(self._settings),
            registry=lambda: registry,
            on_export=None if self._quiet else lambda: err_console.print(EXPORTING),
        )
        return self._local

    def close(self) -> None:
        if self._local is not None:
            self._local.close()


async def _drain(events: AsyncIterator[AgentEvent], *, as_json: bool) -> DraftPlan | None:
    """Print a turn's events; the draft it left waiting, if any."""
    from sentimentops.agents.schemas import DraftPlanEvent, DroppedEvent, SubmittedEvent

    draft: DraftPlan | None = None
    async for event in events:
        _render(event, as_json=as_json)
        if isinstance(event, DraftPlanEvent):
            draft = event.draft
        elif isinstance(event, SubmittedEvent | DroppedEvent):
            draft = None
    return draft


async def _session(
    principal: Principal,
    *,
    agent: str,
    thread: str | None,
    messages: list[str],
    submit: bool,
    as_json: bool,
) -> None:
    from sentimentops.agents import flows
    from sentimentops.agents.schemas import DecisionIn, MessageIn, ThreadIn
    from sentimentops.agents.wiring import open_agent_runtime
    from sentimentops.app.cli.common import flow_context
    from sentimentops.inference.wiring import serving_registry

    settings = load_settings()
    registry = serving_registry(settings)
    knowledge = _ChatKnowledge(settings, registry, quiet=as_json)
    # Closed after the runtime, which first lets any turn still running finish.
    with contextlib.closing(knowledge):
        async with open_agent_runtime(
            flow_context(settings), registry=lambda: registry, knowledge=lambda: knowledge
        ) as rt:
            if thread is None:
                created = await flows.create_thread_flow(rt, principal, ThreadIn(agent=agent))
                thread = created.id
                draft = None
            else:
                current = await flows.get_thread_flow(rt, principal, thread)
                draft = current.draft
            if not as_json:
                console.print(f"[dim]thread {thread} ({agent}); {HELP}[/dim]")
            for text in messages:
                events = await flows.post_message_flow(
                    rt, principal, thread, MessageIn(content=text)
                )
                draft = await _drain(events, as_json=as_json) or draft
            if submit:
                if draft is None:
                    fail("no draft waits in this thread; nothing to submit")
                decision = DecisionIn(action="submit", revision=draft.revision)
                await _drain(
                    await flows.decide_flow(rt, principal, thread, decision), as_json=as_json
                )
                return
            if messages or not sys.stdin.isatty():
                if not as_json:
                    console.print(f"[dim]continue with `sentimentops chat --thread {thread}`[/dim]")
                return
            await _repl(rt, principal, thread, draft)


async def _repl(
    rt: AgentRuntime, principal: Principal, thread: str, draft: DraftPlan | None
) -> None:
    from sentimentops.agents import flows
    from sentimentops.agents.schemas import DecisionIn, MessageIn

    while True:
        try:
            line = (await asyncio.to_thread(console.input, "[bold]you>[/bold] ")).strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return
        if line == "/help":
            console.print(HELP)
            continue
        if line == "/draft":
            if draft is None:
                console.print("No draft waits.")
            else:
                _render_draft(draft)
            continue
        if line in ("/submit", "/drop"):
            if draft is None:
                console.print("No draft waits.")
                continue
            decision = DecisionIn(action=line[1:], revision=draft.revision)
            events = await flows.decide_flow(rt, principal, thread, decision)
            await _drain(events, as_json=False)
            draft = None
            continue
        events = await flows.post_message_flow(rt, principal, thread, MessageIn(content=line))
        draft = await _drain(events, as_json=False) or draft


def chat(
    message: Annotated[
        list[str] | None,
        typer.Option(
            "--message",
            "-m",
            help="Send this message (repeatable) instead of reading the terminal; prints the "
            "agent's events and exits.",
            show_default=False,
        ),
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this thread.", show_default=False)
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", help="planner | training-executor | deployment-sentry")
    ] = "planner",
    submit: Annotated[
        bool, typer.Option("--submit", help="Submit the thread's waiting draft as a plan.")
    ] = False,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: ChatRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Talk to the platform's agents: ask about telemetry, or ask for a change and get a draft
    plan to submit (its steps then wait for a human approval)."""
    from sentimentops.agents.schemas import AGENT_NAMES

    if agent not in AGENT_NAMES:
        fail(f"no agent {agent!r} (agents: {', '.join(AGENT_NAMES)})")
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    kwargs: dict[str, Any] = {
        "agent": agent,
        "thread": thread,
        "messages": message or [],
        "submit": submit,
        "as_json": as_json,
    }
    run_flow(_session(principal, **kwargs))
