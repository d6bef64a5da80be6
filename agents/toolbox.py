"""What an agent may read, and nothing else.

Every read goes through here: it is counted against the run's budget, asked of OPA under the
agent's own principal (a read-only tool is still a tool call), recorded in the audit log with the
agent's subject and the thread id, streamed to the user as a tool_call / tool_result pair, and
kept as evidence that answers and drafts cite. A knowledge base search is announced as a
retrieval too, naming the passages it found. State-changing tools are not reachable: an agent
proposes them as plan steps, and the plan workflow asks policy and a human."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from sentimentops.agents.backend import AgentError, BudgetExceeded
from sentimentops.agents.schemas import (
    AgentEvent,
    Evidence,
    RetrievalEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from sentimentops.core.audit import service as audit
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import transaction
from sentimentops.core.errors import DomainError
from sentimentops.core.model_registry import ModelVersion
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.vocabulary import ALIASES, CANDIDATE_ALIAS, AuditOutcome, Task
from sentimentops.inference.models import CanaryShare
from sentimentops.tools import promotions
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import SENTRY_SUBJECT

# The catalogue tools an agent may call itself; every other tool is a plan step.
READ_TOOLS = frozenset({"get_service_metrics", "detect_drift", "compare_models", "search_kb"})
# Look-ups that are not catalogue tools (registry and plan registry reads).
LOOKUPS = frozenset({"list_model_versions", "list_plans"})
# The version tag training and the model pack set to the family a version was trained with.
FAMILY_TAG = "sentimentops.family"
# Where passages come from, named in a search_kb summary (the retrieval event names them all).
SUMMARY_PLACES = 3

Emit = Callable[[AgentEvent], None]


class NotReadOnly(AgentError):
    code = "not_read_only"


@dataclass
class Budget:
    """Limits of one run, so a looping or manipulated agent ends with a clear message."""

    max_tool_calls: int = 12
    max_seconds: float = 60.0
    max_tokens: int = 20_000
    tool_calls: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def spend_tool_call(self) -> None:
        self.tool_calls += 1
        if self.tool_calls > self.max_tool_calls:
            raise BudgetExceeded(f"stopped after {self.max_tool_calls} tool calls in one turn")
        self.check_time()

    def spend_tokens(self, tokens: int) -> None:
        self.tokens += tokens
        if self.tokens > self.max_tokens:
            raise BudgetExceeded(f"stopped after {self.tokens} tokens (limit {self.max_tokens})")

    def check_time(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.max_seconds:
            raise BudgetExceeded(f"stopped after {elapsed:.0f} s (limit {self.max_seconds:.0f} s)")


def summarize(tool: str, data: dict[str, Any]) -> str:
    """One line a person can check against the data."""
    if "error" in data:
        return f"{tool} failed: {data['error']}"
    if tool == "get_service_metrics":
        p95 = data.get("latency_p95_ms")
        err = data.get("error_rate")
        return (
            f"{data.get('task')}: {data.get('volume', 0)} requests in "
            f"{_window(data.get('window_seconds'))}, P95 "
            + (f"{p95:.1f} ms" if p95 is not None else "n/a")
            + ", error rate "
            + (f"{err:.2%}" if err is not None else "n/a")
            + f", versions {data.get('versions') or {}}"
        )
    if tool == "detect_drift":
        return (
            f"{data.get('task')}: drifted={data.get('drifted')}, "
            f"PSI {_num(data.get('psi_score'))} (scores), "
            f"{_num(data.get('psi_label'))} (labels), {_num(data.get('psi_length'))} (lengths); "
            f"{data.get('current_volume', 0)} predictions now vs "
            f"{data.get('reference_volume', 0)} in the reference window"
        )
    if tool == "compare_models":
        return (
            f"candidate v{data.get('candidate_version')} vs "
            f"v{data.get('baseline_version')}: passed={data.get('passed')}"
            + (f" ({'; '.join(data.get('reasons') or [])})" if data.get("reasons") else "")
        )
    if tool == "list_model_versions":
        aliases = data.get("aliases") or {}
        return (
            f"{data.get('task')}: "
            + ", ".join(f"{alias} v{version}" for alias, version in aliases.items() if version)
            + f", canary share {data.get('canary_share', 0.0):.0%}"
        )
    if tool == "list_plans":
        return f"{len(data.get('plans') or [])} recent plans"
    if tool == "search_kb":
        hits = len(data.get("hits") or [])
        if not hits:
            return f"nothing in the knowledge base for {data.get('query')!r}"
        found = kb_sources(data)
        more = len(found) - SUMMARY_PLACES
        return (
            f"{hits} passage{'s' if hits != 1 else ''} for {data.get('query')!r}: "
            + "; ".join(found[:SUMMARY_PLACES])
            + (f" and {more} more" if more > 0 else "")
        )
    return f"{tool}: ok"


def one_line(text: str) -> str:
    """Document text fit to show or quote: one line, without control and format characters
    (zero-width, bidi overrides), so it cannot reorder or hide the words around it."""
    kept = "".join(char for char in text if char.isspace() or unicodedata.category(char)[0] != "C")
    return " ".join(kept.split())


def kb_citation(hit: dict[str, Any]) -> str:
    """Where a search_kb hit comes from, as a reader finds it: "docs/runbooks.md › Rolling back
    a model" (the source, then the headings above the passage, without the document's own name
    and title that the heading path opens with). Headings are a document's text: one_line."""
    source = str(hit.get("source"))
    headings = [str(h) for h in hit.get("heading_path") or []]
    opening = {source, str(hit.get("title"))}
    while headings and headings[0] in opening:
        headings.pop(0)
    return one_line(" › ".join([source, *headings]))


def kb_sources(data: dict[str, Any]) -> list[str]:
    """The distinct citations of a search_kb result, best first (a long section's chunks
    share one)."""
    return list(dict.fromkeys(kb_citation(hit) for hit in data.get("hits") or []))


def _window(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


class Toolbox:
    """Read-only access for one agent run (see the module docstring)."""

    def __init__(
        self,
        *,
        context: ToolContext,
        principal: PolicyPrincipal,
        thread_id: str,
        emit: Emit,
        budget: Budget | None = None,
    ) -> None:
        self._ctx = context
        self._principal = principal
        self._thread_id = thread_id
        self._emit = emit
        self.budget = budget or Budget()
        self.evidence: list[Evidence] = []

    @property
    def tenant(self) -> str:
        return self._ctx.tenant

    @property
    def has_knowledge(self) -> bool:
        """This process has a knowledge base to search (search_kb fails without one)."""
        return self._ctx.knowledge is not None

    async def call(self, tool: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run a read-only tool (READ_TOOLS) or a look-up (LOOKUPS) and return its output as
        JSON data. A refusal or failure comes back as {"error": ...}, so a model can read it."""
        if tool not in READ_TOOLS and tool not in LOOKUPS:
            # Recorded: an agent reaching for a state change is what an operator wants to see.
            await self._audit(tool, params, AuditOutcome.REFUSED)
            raise NotReadOnly(
                f"{tool} changes state: agents propose it as a plan step, they never call it"
            )
        self.budget.spend_tool_call()
        self._emit(ToolCallEvent(tool=tool, params=params))
        try:
            data = await self._run(tool, params)
            outcome = AuditOutcome.SUCCEEDED
        except (DomainError, ValueError) as exc:
            data, outcome = {"error": str(exc)}, AuditOutcome.FAILED
        await self._audit(tool, params, outcome)
        summary = summarize(tool, data)
        ok = "error" not in data
        self._emit(ToolResultEvent(tool=tool, ok=ok, summary=summary, data=data))
        if ok and tool == "search_kb":
            self._emit(RetrievalEvent(query=str(data["query"]), sources=kb_sources(data)))
        if ok:
            self.evidence.append(Evidence(tool=tool, params=params, summary=summary, data=data))
        return data

    async def _run(self, tool: str, params: dict[str, Any]) -> dict[str, Any]:
        spec = TOOLS.get(tool)
        # Look-ups have no input model: they read one known key each (a task, a limit).
        checked = (
            spec.input_model.model_validate(params).model_dump(mode="json", exclude_none=True)
            if spec is not None
            else params
        )  # a ValueError becomes {"error": ...}
        # Every read, look-ups included, is a tool call to policy: roles, tenant, hourly budget.
        decision = await self._ctx.policy.decide_tool_call(
            principal=self._principal,
            tenant=self._ctx.tenant,
            tool=tool,
            params=checked,
            context={"agent_actions_last_hour": await self._actions_last_hour()},
        )
        if not decision.allow:
            return {"error": "denied by policy: " + "; ".join(decision.reasons)}
        if tool == "list_model_versions":
            return await self._model_versions(params)
        if tool == "list_plans":
            return await self._plans(params)
        if spec is None:
            raise NotReadOnly(f"{tool} is neither a read-only tool nor a look-up")
        output = await spec.run(self._ctx, spec.input_model.model_validate(params))
        result: dict[str, Any] = output.model_dump(mode="json")
        return result

    async def _actions_last_hour(self) -> int:
        since = datetime.now(UTC) - timedelta(hours=1)

        def count() -> int:
            with self._ctx.sessions() as session:
                query = select(func.count()).where(
                    AuditEvent.actor == self._principal.subject, AuditEvent.occurred_at >= since
                )
                return int(session.execute(query).scalar_one())

        return await asyncio.to_thread(count)

    async def _audit(self, tool: str, params: dict[str, Any], outcome: str) -> None:
        def write() -> None:
            with transaction(self._ctx.sessions) as session:
                audit.record(
                    session,
                    actor=self._principal.subject,
                    tenant=self._ctx.tenant,
                    action="agent.read",
                    resource=f"tool/{tool}",
                    outcome=outcome,
                    details={"thread_id": self._thread_id, "params": params},
                )

        await asyncio.to_thread(write)

    async def _model_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        task = _task(params.get("task"))
        registry = self._ctx.registry()

        def read() -> dict[str, Any]:
            aliases: dict[str, str | None] = {}
            for alias in (*ALIASES, CANDIDATE_ALIAS):
                found: ModelVersion | None = registry.version_for_alias(task, alias)
                aliases[alias] = found.version if found else None
            found_versions = sorted(
                registry.find_versions(task), key=lambda v: _version_key(v.version)
            )
            versions = [v.version for v in found_versions]
            # The versions answers talk about, the aliases' and the two newest ("compare the
            # last two versions"), with their metrics and the family they were trained with.
            described = {v for v in aliases.values() if v} | set(versions[-2:])
            metrics = {
                v: registry.version_metrics(task, v) for v in sorted(described, key=_version_key)
            }
            families = {
                v.version: v.tags[FAMILY_TAG]
                for v in found_versions
                if v.version in described and FAMILY_TAG in v.tags
            }
            with self._ctx.sessions() as session:
                share = session.execute(
                    select(CanaryShare.share).where(
                        CanaryShare.tenant_id == self._ctx.tenant_id(session),
                        CanaryShare.task == task,
                    )
                ).scalar_one_or_none()
                # The versions each alias served, oldest first: where a rollback returns to.
                live = {
                    alias: promotions.lineage(
                        promotions.history(session, model_name=task, alias=alias),
                        aliases[alias],
                    )
                    for alias in ALIASES
                }
            return {
                "task": task,
                "aliases": aliases,
                "versions": versions[-10:],
                "metrics": metrics,
                "families": families,
                "live_history": live,
                "canary_share": float(share or 0.0),
            }

        return await asyncio.to_thread(read)

    async def _plans(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = min(int(params.get("limit", 10)), 50)

        def read() -> dict[str, Any]:
            with self._ctx.sessions() as session:
                rows = session.execute(
                    select(PlanExecution)
                    .where(
                        PlanExecution.tenant_id == self._ctx.tenant_id(session),
                        PlanExecution.proposer != SENTRY_SUBJECT,
                    )
                    .order_by(PlanExecution.created_at.desc())
                    .limit(limit)
                ).scalars()
                return {
                    "plans": [
                        {
                            "id": row.id,
                            "status": row.status,
                            "proposer": row.proposer,
                            "rationale": row.rationale[:200],
                            "created_at": row.created_at.isoformat(),
                        }
                        for row in rows
                    ]
                }

        return await asyncio.to_thread(read)


def _task(value: Any) -> Task:
    if value not in ("sentiment", "sarcasm"):
        raise ValueError(f"unknown task {value!r} (tasks: sentiment, sarcasm)")
    task: Task = value
    return task


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)
