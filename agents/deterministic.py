"""The deterministic planner: the default backend, with no LLM anywhere.

Intent recognition over the message (agents/intents.py) and rules over telemetry read through
the Toolbox (so every read is policy-checked, audited and cited as evidence). Questions get
answers with the numbers they rest on; requests for change get a Proposal of one of a few fixed
step shapes (the lifecycle and rollback templates, a promotion, a canary share) filled from
parsed, range-checked slots and validated by each tool's input model. The message is data: the
worst it can do is name a change, which becomes a draft that a person submits and a human
approves before anything runs.

The knowledge base answers "how do I …" questions, and its runbooks are cited where one applies
(a rollback, drift, a latency rise). Its passages are quoted, never read for instructions: no
rule here parses them, so a planted document can say anything and change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pydantic import ValidationError

from sentimentops.agents import intents
from sentimentops.agents.backend import Answer, Proposal, Reply, Turn
from sentimentops.agents.intents import DAY, HOUR, Intent
from sentimentops.agents.schemas import DraftPlan
from sentimentops.agents.toolbox import Toolbox, kb_citation, kb_sources, one_line
from sentimentops.core.knowledge import KbKind
from sentimentops.core.policy import Principal
from sentimentops.core.vocabulary import ALIASES, TASKS, Task
from sentimentops.tools.catalogue import TOOLS
from sentimentops.workflows.schemas import PlanStep
from sentimentops.workflows.templates import lifecycle_plan, rollback_plan

DEFAULT_FAMILY = "tfidf_lr"
# The families train_model can fit (training/config.py FAMILIES, without importing training).
FAMILIES = ("tfidf_lr", "notebook", "minilm")
DEFAULT_CANARY_SHARE = 0.1
# Latency "went up" when the last hour's P95 or P50 is this much above the longer window's.
LATENCY_RISE = 1.2
# Volume explains a rise when the last hour saw this many times the earlier hourly rate.
VOLUME_RISE = 2.0
# The longest windows the read tools accept (their input models' bounds).
MAX_METRICS_WINDOW = 90 * DAY
MAX_DRIFT_WINDOW = 30 * DAY
MAX_SOAK_SECONDS = 7 * DAY
# Metrics an answer compares, in this order, when both versions recorded them.
KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("test_accuracy", "test accuracy"),
    ("test_macro_f1", "test macro-F1"),
    ("test_roc_auc", "test ROC-AUC"),
    ("worst_domain_accuracy", "worst-domain accuracy"),
    ("worst_domain_macro_f1", "worst-domain macro-F1"),
    ("latency_p95_ms", "P95 latency"),
)
# The runbook a reply cites, found by its heading (docs/runbooks.md): the knowledge base's
# re-rank puts a section whose heading holds the query's words first.
RUNBOOKS: dict[str, str] = {
    "rollback": "rolling back a model",
    "drift": "a model drifts",
    "latency": "latency went up",
}
# How-to questions read the documentation: the platform's and the tenant's uploaded documents.
HOWTO_KINDS: tuple[KbKind, ...] = ("doc", "upload")
HOWTO_PASSAGES = 3
# search_kb's longest query (its input model), and how much of a passage an answer quotes.
MAX_KB_QUERY = 500
QUOTE_CHARS = 240

CAPABILITIES = (
    "I can answer from the platform's telemetry and draft plans for you to submit:\n"
    "- latency: 'why did sarcasm latency go up since yesterday?'\n"
    "- drift: 'is the sentiment model drifting?'\n"
    "- health and error rate: 'how is sarcasm doing in the last hour?'\n"
    "- compare versions: 'compare the last two sarcasm versions'\n"
    "- what it would take: 'what would it take to get sentiment above 94 %?'\n"
    "- retrain with a canary: 'retrain sarcasm on the newest dataset version and canary it "
    "at 10 %' (families: tfidf_lr, notebook, minilm)\n"
    "- roll back: 'roll sentiment back' or 'roll sarcasm back two versions'\n"
    "- promote: 'promote sarcasm version 3 to staging'\n"
    "- canary share: 'set the sarcasm canary to 25 %' or 'end the sentiment canary'\n"
    "- how to, from the runbooks and docs: 'how do I roll back a model?'\n"
    "A change is only ever a draft plan: nothing runs until you submit it and a human "
    "approves it."
)


@dataclass
class _Run:
    """One turn: reads through the toolbox, and what the answer must say about failed reads."""

    turn: Turn
    tools: Toolbox
    failures: list[str] = field(default_factory=list)
    # Where the slots of a change come from: the message, or the draft being revised.
    asked: str = "as asked"

    async def read(self, tool: str, params: dict[str, Any]) -> dict[str, Any] | None:
        data = await self.tools.call(tool, params)
        if "error" in data:
            task = params.get("task")
            what = f"{tool} for {task}" if task else tool
            self.failures.append(f"I could not read {what}: {data['error']}")
            return None
        return data

    async def cite(self, topic: str) -> str:
        """The runbook of `topic` from the knowledge base, as a sentence to end a reply with;
        nothing where the process has none or it found nothing. A failed search shows in the
        turn's events, and the reply stands without its citation."""
        if not self.tools.has_knowledge:
            return ""
        data = await self.tools.call(
            "search_kb", {"query": RUNBOOKS[topic], "limit": 1, "kinds": ["doc"]}
        )
        found = [] if "error" in data else kb_sources(data)
        return f"See {found[0]}." if found else ""

    def answer(self, *lines: str) -> Answer:
        text = "\n".join([line for line in lines if line] + self.failures)
        return Answer(text=text, evidence=list(self.tools.evidence))

    def proposal(self, steps: list[PlanStep], rationale: str, expected_effect: str) -> Reply:
        problem = _invalid(steps)
        if problem is not None:
            return self.answer(f"I cannot draft that plan: {problem}")
        return Proposal(
            rationale=(rationale + "".join(f" {line}" for line in self.failures))[:4000],
            expected_effect=expected_effect[:2000],
            steps=steps,
            evidence=list(self.tools.evidence),
        )


Handler = Callable[[_Run, Intent], Awaitable[Reply]]


class DeterministicBackend:
    """Rules over telemetry (see the module docstring)."""

    name = "deterministic"

    async def respond(self, turn: Turn, tools: Toolbox) -> Reply:
        run = _Run(turn, tools)
        intent = intents.parse(turn.message)
        if turn.draft is not None and intent.kind in _REVISING_KINDS:
            revised = await _revise(run, turn.draft, intent)
            if revised is not None:
                return revised
        elif turn.draft is None:
            intent = _with_earlier_request(turn, intent)
        return await _HANDLERS[intent.kind](run, intent)


def _with_earlier_request(turn: Turn, intent: Intent) -> Intent:
    """A bare task ("sarcasm") answers the question "which task?" asked of the request before."""
    if intent.kind != "unknown" or intent.task is None:
        return intent
    earlier = [m.content for m in turn.history if m.role == "user"]
    if not earlier:
        return intent
    before = intents.parse(earlier[-1])
    if before.kind in intents.CHANGE_KINDS and not before.tasks:
        return replace(before, **_given(intent, _SLOTS))
    return intent


# The slots of an intent (all its fields but the kind, the metric, which always has a value, and
# what a how-to question is about).
_SLOTS = tuple(f.name for f in fields(Intent) if f.name not in ("kind", "metric", "about"))


def _given(intent: Intent, slots: tuple[str, ...]) -> dict[str, Any]:
    """The slots the message set. 0 is a value (a skipped soak, an ended canary)."""
    values = {slot: getattr(intent, slot) for slot in slots}
    return {
        slot: value
        for slot, value in values.items()
        if value is not None and value != () and value is not False
    }


# --- Formatting ------------------------------------------------------------------------------


def _num(data: dict[str, Any] | None, key: str) -> float | None:
    value = (data or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _share(value: float) -> str:
    return f"{value * 100:g}%"


def _span(seconds: float) -> str:
    if seconds >= 2 * DAY and seconds % DAY == 0:
        return f"{seconds / DAY:g} days"
    if seconds >= HOUR:
        return f"{seconds / HOUR:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _metric_value(key: str, value: float) -> str:
    return _ms(value) if key.endswith("_ms") else f"{value:.1%}"


def _metric_delta(key: str, old: float, new: float) -> str:
    if key.endswith("_ms"):
        return f"{new - old:+.1f} ms"
    return f"{(new - old) * 100:+.1f} points"


def _deltas(old: dict[str, float], new: dict[str, float]) -> list[str]:
    return [
        f"{label} {_metric_value(key, old[key])} -> {_metric_value(key, new[key])} "
        f"({_metric_delta(key, old[key], new[key])})"
        for key, label in KEY_METRICS
        if key in old and key in new
    ]


def _aliases_of(registry: dict[str, Any], version: str) -> list[str]:
    return [alias for alias, held in (registry.get("aliases") or {}).items() if held == version]


def _named(registry: dict[str, Any], version: str, *more: str) -> str:
    held = [*_aliases_of(registry, version), *more]
    return f"v{version}" + (f" ({', '.join(held)})" if held else "")


def _question_tasks(intent: Intent) -> tuple[Task, ...]:
    """The tasks a question covers: the ones named, else both (reading is harmless)."""
    return intent.tasks or TASKS


def _which_task(intent: Intent) -> Answer:
    if intent.kind not in intents.CHANGE_KINDS:
        return Answer(text="Which task, sentiment or sarcasm?")
    if len(intent.tasks) > 1:
        return Answer(text="One plan per task: which one first, sentiment or sarcasm?")
    return Answer(
        text=(
            "Which task, sentiment or sarcasm? I never guess the task of a change: name it, "
            "e.g. 'roll sarcasm back'."
        )
    )


def _versions(count: int) -> str:
    return f"{count} version" + ("" if count == 1 else "s")


APPROVAL = "Nothing runs before a human approves the plan."


# --- Questions -------------------------------------------------------------------------------


async def _latency(run: _Run, intent: Intent) -> Reply:
    window = (
        intent.window_seconds if intent.window_seconds and intent.window_seconds > HOUR else DAY
    )
    window = min(window, MAX_METRICS_WINDOW)
    lines = []
    rose = False
    for task in _question_tasks(intent):
        now = await run.read("get_service_metrics", {"task": task, "window_seconds": HOUR})
        before = await run.read("get_service_metrics", {"task": task, "window_seconds": window})
        registry = await run.read("list_model_versions", {"task": task})
        staging = None
        staged = (registry or {}).get("aliases", {}).get("staging")
        if registry is not None and staged and registry["canary_share"] > 0:
            staging = await run.read(
                "get_service_metrics", {"task": task, "window_seconds": HOUR, "alias": "staging"}
            )
        lines.append(_latency_text(task, window, now, before, registry, staging))
        rose = rose or _rose(now, before)
    return run.answer(*lines, await run.cite("latency") if rose else "")


def _rose(now: dict[str, Any] | None, before: dict[str, Any] | None) -> bool:
    """The last hour's P95 or P50 is well above the longer window's (both with traffic)."""
    if now is None or before is None or not now["volume"] or not before["volume"]:
        return False
    return any(
        (_num(now, key) or 0.0) > LATENCY_RISE * (_num(before, key) or 0.0)
        for key in ("latency_p95_ms", "latency_p50_ms")
    )


def _latency_text(
    task: str,
    window: float,
    now: dict[str, Any] | None,
    before: dict[str, Any] | None,
    registry: dict[str, Any] | None,
    staging: dict[str, Any] | None,
) -> str:
    if now is None or before is None:
        return f"{task}: no latency readings."
    span = _span(window)
    if not before["volume"]:
        return f"{task}: no scoring traffic in the last {span}, so there is no latency to explain."
    longer = (
        f"P95 {_ms(_num(before, 'latency_p95_ms'))} (P50 {_ms(_num(before, 'latency_p50_ms'))}) "
        f"over the last {span} on {before['volume']} requests"
    )
    if not now["volume"]:
        return f"{task}: no requests in the last hour; {longer}."
    head = (
        f"{task}: P95 {_ms(_num(now, 'latency_p95_ms'))} (P50 {_ms(_num(now, 'latency_p50_ms'))}) "
        f"over the last hour on {now['volume']} requests, against {longer}."
    )
    gates = (
        ""
        if now["passed"]
        else " The soak gates fail on the last hour: " + "; ".join(now["reasons"]) + "."
    )
    if not _rose(now, before):
        return f"{head} Latency did not go up.{gates}"
    causes = _latency_causes(window, now, before, registry, staging)
    if causes:
        return f"{head} Latency went up. Likely cause: {'; '.join(causes)}.{gates}"
    return (
        f"{head} Latency went up, and nothing in the readings explains it: no new version, no "
        f"canary, steady volume.{gates}"
    )


def _latency_causes(
    window: float,
    now: dict[str, Any],
    before: dict[str, Any],
    registry: dict[str, Any] | None,
    staging: dict[str, Any] | None,
) -> list[str]:
    causes = []
    earlier_volume = before["volume"] - now["volume"]
    earlier_versions: dict[str, int] = before["versions"]
    for version, count in sorted(now["versions"].items()):
        if earlier_volume > 0 and earlier_versions.get(version, 0) - count == 0:
            causes.append(
                f"a new version: v{version} started answering in the last hour ({count} of "
                f"{now['volume']} requests, none in the {_span(window)} before)"
            )
    if registry is not None and registry["canary_share"] > 0:
        staged = registry["aliases"].get("staging")
        text = f"a canary sends {_share(registry['canary_share'])} of requests to staging v{staged}"
        if staging is not None and staging["volume"]:
            text += f", which answered at P95 {_ms(_num(staging, 'latency_p95_ms'))}"
        causes.append(text)
    earlier_hours = (window - HOUR) / HOUR
    rate = earlier_volume / earlier_hours if earlier_hours > 0 else 0.0
    if rate > 0 and now["volume"] >= VOLUME_RISE * rate:
        causes.append(
            f"more traffic: {now['volume']} requests in the last hour against about "
            f"{rate:.0f} an hour before"
        )
    return causes


async def _drift(run: _Run, intent: Intent) -> Reply:
    window = min(intent.window_seconds or HOUR, MAX_DRIFT_WINDOW)
    lines = []
    drifted = False
    for task in _question_tasks(intent):
        data = await run.read("detect_drift", {"task": task, "window_seconds": window})
        if data is not None:
            lines.append(_drift_text(task, window, data))
            drifted = drifted or bool(data["drifted"])
    return run.answer(*lines, await run.cite("drift") if drifted else "")


def _drift_text(task: str, window: float, data: dict[str, Any]) -> str:
    volumes = (
        f"{data['current_volume']} predictions in the last {_span(window)} against "
        f"{data['reference_volume']} in the 7 days before"
    )
    values = [_num(data, key) for key in ("psi_score", "psi_label", "psi_length")]
    if any(value is None for value in values):
        return f"{task}: drift cannot be measured: {volumes} (both windows need traffic)."
    psi = (
        f"PSI {values[0]:.3f} on prediction confidence, {values[1]:.3f} on labels, "
        f"{values[2]:.3f} on text length"
    )
    if data["drifted"]:
        return (
            f"{task} is drifting: {psi} ({'; '.join(data['reasons'])}), over {volumes}. "
            f"If it persists, retraining on recent labelled data is the remedy ('retrain {task}')."
        )
    if not data.get("enough_traffic", True):
        # Too few predictions make PSI noise: the policy does not judge, and neither may we.
        return (
            f"{task}: too little traffic to tell ({volumes}; each window needs "
            f"{data.get('min_volume')}). Measured anyway: {psi}."
        )
    return f"{task}: no drift by the policy's thresholds: {psi}, over {volumes}."


async def _health(run: _Run, intent: Intent) -> Reply:
    window = min(intent.window_seconds or HOUR, MAX_METRICS_WINDOW)
    lines = []
    for task in _question_tasks(intent):
        data = await run.read("get_service_metrics", {"task": task, "window_seconds": window})
        registry = await run.read("list_model_versions", {"task": task})
        if data is not None:
            lines.append(_health_text(task, window, data, registry))
    return run.answer(*lines)


def _health_text(
    task: str, window: float, data: dict[str, Any], registry: dict[str, Any] | None
) -> str:
    serving = ""
    if registry is not None:
        production = registry["aliases"].get("production")
        serving = f" Production is v{production}." if production else " No production version."
        if registry["canary_share"] > 0:
            serving += (
                f" A canary sends {_share(registry['canary_share'])} to staging "
                f"v{registry['aliases'].get('staging')}."
            )
    error_rate = _num(data, "error_rate")
    if not data["volume"] and not data["failed"]:
        return f"{task}: no scoring traffic in the last {_span(window)}.{serving}"
    figures = (
        f"{task} over the last {_span(window)}: {data['volume']} requests answered, "
        f"{data['failed']} failed (error rate "
        + ("n/a" if error_rate is None else f"{error_rate:.2%}")
        + f"), P95 {_ms(_num(data, 'latency_p95_ms'))}."
    )
    verdict = (
        " Healthy: the soak gates pass."
        if data["passed"]
        else " Not healthy: " + "; ".join(data["reasons"]) + "."
    )
    return figures + verdict + serving


async def _compare(run: _Run, intent: Intent) -> Reply:
    lines = []
    for task in _question_tasks(intent):
        registry = await run.read("list_model_versions", {"task": task})
        if registry is None:
            continue
        candidate = registry["aliases"].get("candidate")
        production = registry["aliases"].get("production")
        if candidate and candidate != production:
            result = await run.read(
                "compare_models", {"task": task, "candidate_version": candidate}
            )
            if result is not None:
                lines.append(_gate_text(task, registry, result))
            continue
        versions: list[str] = registry["versions"]
        if not versions:
            lines.append(f"{task}: no registered versions to compare.")
            continue
        if len(versions) == 1:
            lines.append(f"{task}: only {_named(registry, versions[0])} is registered.")
            continue
        older, newer = versions[-2], versions[-1]
        metrics = registry["metrics"]
        deltas = _deltas(metrics.get(older) or {}, metrics.get(newer) or {})
        lines.append(
            f"{task}: {_named(registry, newer)} against {_named(registry, older)}: "
            + ("; ".join(deltas) if deltas else "no metric recorded for both")
            + "."
        )
    return run.answer(*lines)


def _gate_text(task: str, registry: dict[str, Any], result: dict[str, Any]) -> str:
    candidate = result["candidate_version"]
    baseline = result["baseline_version"]
    if baseline is None:
        head = f"{task}: candidate {_named(registry, candidate)} has no production version to beat"
    else:
        deltas = _deltas(result["baseline_metrics"] or {}, result["candidate_metrics"])
        head = (
            f"{task}: candidate {_named(registry, candidate)} against "
            f"{_named(registry, baseline)}: "
            + ("; ".join(deltas) if deltas else "no metric recorded for both")
        )
    if result["passed"]:
        return f"{head}. It passes the promotion gates."
    return f"{head}. The promotion gates refuse it: {'; '.join(result['reasons'])}."


async def _improve(run: _Run, intent: Intent) -> Reply:
    task = intent.task
    if task is None:
        return _which_task(intent)
    threshold = intent.threshold
    if threshold is not None and not 0 < threshold < 1:
        return Answer(text=f"{_share(threshold)} is not a reachable {intent.metric}.")
    registry = await run.read("list_model_versions", {"task": task})
    if registry is None:
        return run.answer()
    version = registry["aliases"].get("production") or (registry["versions"] or [None])[-1]
    if version is None:
        return run.answer(
            f"{task} has no model yet: start with 'retrain {task} and canary it at 10 %'."
        )
    metrics: dict[str, float] = registry["metrics"].get(version) or {}
    current = metrics.get(f"test_{intent.metric}")
    family = (registry.get("families") or {}).get(version)
    named = _named(registry, version, *([family] if family else []))
    domains = sorted(
        (value, key.removeprefix("domain_").removesuffix(f"_{intent.metric}"))
        for key, value in metrics.items()
        if key.startswith("domain_") and key.endswith(f"_{intent.metric}")
    )
    if current is None and not domains:
        return run.answer(f"{task} {named} has no recorded {intent.metric}.")
    lines = []
    if current is not None:
        lines.append(f"{task} {named} has test {intent.metric} {current:.1%}.")
        if threshold is not None:
            if current >= threshold:
                return run.answer(f"{lines[0]} That is already above {_share(threshold)}.")
            lines.append(
                f"That is {(threshold - current) * 100:.1f} points short of {_share(threshold)}."
            )
        if domains:
            lines.append(
                "Weakest domains: "
                + ", ".join(f"{name} {value:.1%}" for value, name in domains[:3])
                + "."
            )
    else:
        # A model measured per domain only (the model pack's cards): the pooled figure would
        # hide the domains users write in, so answer per domain.
        lines.append(
            f"{task} {named} is measured per domain: {intent.metric} from "
            f"{domains[0][0]:.1%} ({domains[0][1]}) to {domains[-1][0]:.1%} ({domains[-1][1]})."
        )
        if threshold is not None:
            below = [(value, name) for value, name in domains if value < threshold]
            if not below:
                return run.answer(f"{lines[0]} Every domain is already above {_share(threshold)}.")
            lines.append(
                f"{len(below)} of {len(domains)} domains are below {_share(threshold)}: "
                + ", ".join(
                    f"{name} {value:.1%} ({(threshold - value) * 100:.1f} points short)"
                    for value, name in below
                )
                + "."
            )
    if family == "minilm" or family == "routed":
        lines.append(
            "Production is already MiniLM-based (the largest family here"
            + (", assembled from the model pack's GPU fits" if family == "routed" else "")
            + "): the next gains come from a longer MiniLM fit on the GPU queue and more "
            "labelled data in the weakest domains (the labeling studio), then a lifecycle whose "
            "gates measure the result: it is measured then, not promised."
        )
    else:
        lines.append(
            "The larger family here is minilm (all-MiniLM-L6-v2 fine-tuned; it trains on the "
            "GPU queue when one is lent, slowly on CPU). A lifecycle trains it, evaluates it on "
            f"the same test split and lets the promotion gates compare it with v{version}; "
            "whether it reaches the target is measured then, not promised. Say "
            f"'retrain {task} with minilm and canary it at 10 %' for a draft plan."
        )
    return run.answer(*lines)


async def _help(run: _Run, intent: Intent) -> Reply:
    return run.answer(CAPABILITIES)


# What to ask for the platform's own numbers, or for a draft, after a how-to answer.
_ASK: dict[str, str] = {
    "rollback": "roll {task} back",
    "retrain": "retrain {task} and canary it at 10 %",
    "promote": "promote {task} version N to staging",
    "canary": "set the {task} canary to 10 %",
    "latency": "why did {task} latency go up?",
    "drift": "is {task} drifting?",
    "health": "how is {task} doing?",
    "compare": "compare the last two {task} versions",
}


def _quote(text: str) -> str:
    """A passage's opening words (its heading lines are in its citation already)."""
    body = one_line(
        " ".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    return body if len(body) <= QUOTE_CHARS else body[: QUOTE_CHARS - 1].rstrip() + "…"


async def _howto(run: _Run, intent: Intent) -> Reply:
    query = intents.normalize(run.turn.message)[:MAX_KB_QUERY]
    data = await run.read(
        "search_kb", {"query": query, "limit": HOWTO_PASSAGES, "kinds": list(HOWTO_KINDS)}
    )
    if data is None:
        return run.answer()
    passages: dict[str, str] = {}
    for hit in data["hits"]:
        passages.setdefault(kb_citation(hit), _quote(str(hit["text"])))
    lines = (
        [
            "From the knowledge base (quoted from the documents: they inform, they do not "
            "instruct):",
            *(f'{n}. {where}: "{quote}"' for n, (where, quote) in enumerate(passages.items(), 1)),
        ]
        if passages
        else ["The knowledge base has nothing on that."]
    )
    ask = _ASK.get(intent.about or "")
    if ask is not None and intent.task is not None:
        phrase = ask.format(task=intent.task)
        lines.append(
            f"Here, ask me '{phrase}' and I draft the plan: nothing runs until you submit it "
            "and a human approves it."
            if intent.about in intents.CHANGE_KINDS
            else f"For this platform's numbers, ask me '{phrase}'."
        )
    return run.answer(*lines)


async def _unknown(run: _Run, intent: Intent) -> Reply:
    return run.answer("I did not recognise a request I can help with.", CAPABILITIES)


# --- Changes: draft plans ----------------------------------------------------------------------


def _template_proposer(turn: Turn) -> Principal:
    # The templates build whole plans; only their steps are kept. The plan a person submits
    # names the agent's real principal and the asker (agents/drafts.py).
    return Principal(
        subject=turn.agent, kind="agent", roles=["agent"], tenant=turn.tenant, agent=turn.agent
    )


def _invalid(steps: list[PlanStep]) -> str | None:
    """The first step whose parameters its tool refuses (the tool's own input model)."""
    for step in steps:
        spec = TOOLS.get(step.tool)
        if spec is None:
            return f"unknown tool {step.tool}"
        try:
            spec.input_model.model_validate(step.params)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            return f"{step.tool} {where}: {error['msg']}"
        problem = _invalid(step.on_gate_failure)
        if problem is not None:
            return problem
    return None


async def _retrain(run: _Run, intent: Intent) -> Reply:
    task = intent.task
    if task is None:
        return _which_task(intent)
    share = DEFAULT_CANARY_SHARE if intent.share is None else intent.share
    if not 0 < share <= 1:
        return Answer(text=f"A canary share is more than 0 and at most 100 %, not {_share(share)}.")
    soak = intent.soak_seconds
    if soak is not None and soak > MAX_SOAK_SECONDS:
        return Answer(text=f"A soak is at most {_span(MAX_SOAK_SECONDS)}, not {_span(soak)}.")
    registry = await run.read("list_model_versions", {"task": task})
    production = (registry or {}).get("aliases", {}).get("production")
    known = (registry or {}).get("families", {}).get(production) if production else None
    if intent.family is not None:
        family, why = intent.family, run.asked
    elif known in FAMILIES:
        family, why = known, f"the family of production v{production}"
    elif known is not None:
        # e.g. the model pack's "routed" models, assembled on a GPU machine: not a recipe
        # a worker can rerun, so the default family is proposed and the answer says why.
        family = DEFAULT_FAMILY
        why = f"production v{production} is a {known} model, which is not trained here"
    else:
        family, why = DEFAULT_FAMILY, "the default family"
    options: dict[str, Any] = {"canary_share": share}
    if soak is not None:
        options["soak_seconds"] = soak
    if intent.max_train_samples is not None:
        options["max_train_samples"] = intent.max_train_samples
    plan = lifecycle_plan(
        tenant=run.turn.tenant,
        proposer=_template_proposer(run.turn),
        task=task,
        family=family,
        **options,
    )
    soaked = next(step.delay_seconds for step in plan.steps if step.on_gate_failure)
    now = "no production version yet"
    if registry is not None and production:
        metrics = registry["metrics"].get(production) or {}
        accuracy = metrics.get("test_accuracy")
        now = f"production v{production}" + (
            f" at test accuracy {accuracy:.1%}" if accuracy is not None else ""
        )
        now += f", canary share {_share(registry['canary_share'])}"
    data = (
        "on the newest version of its dataset" if intent.newest_data else "on its current dataset"
    )
    subset = (
        f" (a subset of {intent.max_train_samples} training texts)"
        if intent.max_train_samples
        else ""
    )
    rationale = (
        f"Retrain {task} with {family} ({why}) {data}{subset}: validate_dataset checks it and "
        "records its content hash, the version training uses. Then evaluate, compare with "
        f"production through the promotion gates, promote to staging, canary {_share(share)} "
        f"for a {_span(soaked) if soaked else 'skipped'} soak, and promote to production. "
        f"Now: {now}."
    )
    expected = (
        f"If every gate passes: {task} staging gets the new version answering {_share(share)} "
        f"of requests"
        + (f" for {_span(soaked)}" if soaked else "")
        + ", then production "
        + (f"v{production}" if production else "(none yet)")
        + " moves to the new version and the canary goes back to 0%. A failed gate stops the "
        f"plan before production; a failed soak ends the canary and rolls staging back. {APPROVAL}"
    )
    return run.proposal(plan.steps, rationale, expected)


async def _rollback(run: _Run, intent: Intent) -> Reply:
    task = intent.task
    if task is None:
        return _which_task(intent)
    alias = intent.alias or "production"
    registry = await run.read("list_model_versions", {"task": task})
    if registry is None:
        return run.answer()
    current = registry["aliases"].get(alias)
    if current is None:
        return run.answer(f"{task} has no {alias} version: there is nothing to roll back.")
    live: list[str] = (registry.get("live_history") or {}).get(alias) or [current]
    steps = intent.steps or 1
    if intent.version is not None:
        if intent.version not in live[:-1]:
            return run.answer(
                f"v{intent.version} was not live in {task} {alias} before v{current} "
                f"(live before: {', '.join(f'v{v}' for v in live[:-1]) or 'none'}); "
                f"to move {alias} to it, ask to promote it."
            )
        steps = len(live) - 1 - live.index(intent.version)
    earlier = len(live) - 1
    if steps > earlier and alias == "production":
        return run.answer(
            f"{task} production has {_versions(earlier)} before v{current}: it cannot go back "
            f"{steps}."
        )
    target = live[-1 - steps] if steps <= earlier else None
    moves = f"v{current} back to " + (f"v{target}" if target else "no staging version")
    plan = rollback_plan(
        tenant=run.turn.tenant,
        proposer=_template_proposer(run.turn),
        task=task,
        alias=alias,
        steps=steps,
    )
    runbook = await run.cite("rollback")
    rationale = (
        f"Roll {task} {alias} back {_versions(steps)}, {run.asked}: {moves}, the version live "
        f"before it in the promotion history "
        f"({' -> '.join(f'v{v}' for v in live)})." + (f" {runbook}" if runbook else "")
    )
    expected = (
        f"{task} {alias} moves from {moves}; the scoring service swaps within seconds. {APPROVAL}"
    )
    return run.proposal(plan.steps, rationale, expected)


async def _promote(run: _Run, intent: Intent) -> Reply:
    task = intent.task
    if task is None:
        return _which_task(intent)
    target = intent.alias or "staging"
    registry = await run.read("list_model_versions", {"task": task})
    if registry is None:
        return run.answer()
    version = intent.version or registry["aliases"].get("candidate")
    if version is None:
        return run.answer(f"{task} has no candidate version: name the version to promote.")
    if version not in registry["versions"]:
        newest = ", ".join(f"v{v}" for v in registry["versions"]) or "none"
        return run.answer(f"{task} has no version {version} among its newest ({newest}).")
    before = registry["aliases"].get(target)
    if before == version:
        return run.answer(f"{task} {target} is already v{version}.")
    metrics = registry["metrics"]
    deltas = _deltas(metrics.get(before) or {}, metrics.get(version) or {}) if before else []
    rationale = (
        f"Promote {task} v{version} to {target}, {run.asked}"
        + ("" if intent.alias else " (staging, the canary's alias, when no target is named)")
        + "."
        + (f" Against v{before}: {'; '.join(deltas)}." if deltas else "")
    )
    expected = (
        f"{task} {target} moves from "
        + (f"v{before}" if before else "no version")
        + f" to v{version}; rollback_model can undo it. {APPROVAL}"
        + (" Policy demands one for production in any case." if target == "production" else "")
    )
    steps = [
        PlanStep(tool="promote_model", params={"task": task, "version": version, "target": target})
    ]
    return run.proposal(steps, rationale, expected)


async def _canary(run: _Run, intent: Intent) -> Reply:
    task = intent.task
    if task is None:
        return _which_task(intent)
    share = intent.share
    if share is None:
        return Answer(text=f"What share of {task} requests should the canary get, e.g. 10 %?")
    if not 0 <= share <= 1:
        return Answer(text=f"A canary share is between 0 and 100 %, not {_share(share)}.")
    registry = await run.read("list_model_versions", {"task": task})
    if registry is None:
        return run.answer()
    before = float(registry["canary_share"])
    if share == before:
        return run.answer(f"The {task} canary share is already {_share(share)}.")
    staging = registry["aliases"].get("staging")
    candidate = registry["aliases"].get("candidate")
    steps: list[PlanStep] = []
    if share > 0 and staging is None:
        if candidate is None:
            return run.answer(
                f"{task} has no staging or candidate version to canary: train one first "
                f"('retrain {task} and canary it at {_share(share)}')."
            )
        steps.append(
            PlanStep(
                tool="promote_model",
                params={"task": task, "version": candidate, "target": "staging"},
            )
        )
        staging = candidate
    steps.append(PlanStep(tool="set_canary", params={"task": task, "share": share}))
    if share == 0:
        rationale = (
            f"End the {task} canary, {run.asked} (now {_share(before)} to staging v{staging})."
        )
        expected = (
            f"All {task} requests go to production again ({_share(before)} -> 0%). {APPROVAL}"
        )
    else:
        rationale = (
            f"Set the {task} canary to {_share(share)}, {run.asked} (now {_share(before)})"
            + (f"; candidate v{candidate} goes to staging first." if len(steps) > 1 else ".")
        )
        expected = (
            f"{_share(share)} of {task} requests are answered by staging v{staging} "
            f"(from {_share(before)}). {APPROVAL}"
        )
    return run.proposal(steps, rationale, expected)


_HANDLERS: dict[intents.IntentKind, Handler] = {
    "latency": _latency,
    "drift": _drift,
    "health": _health,
    "compare": _compare,
    "improve": _improve,
    "retrain": _retrain,
    "canary": _canary,
    "rollback": _rollback,
    "promote": _promote,
    "howto": _howto,
    "help": _help,
    "unknown": _unknown,
}


# --- Revisions -------------------------------------------------------------------------------

# Message kinds that can revise a waiting draft; a question is answered and the draft waits.
_REVISING_KINDS = intents.CHANGE_KINDS | {"unknown"}
# Which slots of a message change a draft of each shape, and the kinds that may do it.
_REVISABLE: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "retrain": (
        frozenset({"retrain", "canary", "unknown"}),
        ("tasks", "share", "family", "max_train_samples", "soak_seconds", "newest_data"),
    ),
    "rollback": (frozenset({"rollback", "unknown"}), ("tasks", "steps", "alias", "version")),
    "promote": (frozenset({"promote", "unknown"}), ("tasks", "alias", "version")),
    "canary": (frozenset({"canary", "unknown"}), ("tasks", "share")),
}


def _slot(slot: str, value: Any) -> str:
    """A slot's value as the user reads it."""
    if value is None:
        return "default"
    if slot == "tasks":
        return "/".join(value)
    if slot == "share":
        return _share(value)
    if slot == "soak_seconds":
        return _span(value) if value else "none"
    if slot == "version":
        return f"v{value}"
    return str(value)


_SLOT_NAMES = {
    "tasks": "task",
    "share": "canary share",
    "family": "family",
    "max_train_samples": "training subset",
    "soak_seconds": "soak",
    "newest_data": "newest dataset",
    "steps": "versions back",
    "alias": "alias",
    "version": "version",
}


def _draft_intent(draft: DraftPlan) -> Intent | None:
    """The request a draft carries out, read back from its steps (None: not a shape of ours)."""
    tools = [step.tool for step in draft.steps]
    # The first step of each tool (reversed: earlier steps overwrite later ones).
    params = {step.tool: step.params for step in reversed(draft.steps)}
    tasks = tuple(task for task in TASKS if task == draft.steps[0].params.get("task"))
    if not tasks:
        return None
    if "train_model" in tools:
        shares = [s.params.get("share", 0) for s in draft.steps if s.tool == "set_canary"]
        soak = next((s.delay_seconds for s in draft.steps if s.on_gate_failure), None)
        return Intent(
            kind="retrain",
            tasks=tasks,
            share=next((float(s) for s in shares if s), None),
            family=params["train_model"].get("family"),
            max_train_samples=params["train_model"].get("max_train_samples"),
            soak_seconds=soak,
        )
    if tools == ["rollback_model"]:
        alias = params["rollback_model"].get("alias", "production")
        return Intent(
            kind="rollback",
            tasks=tasks,
            steps=int(params["rollback_model"].get("steps", 1)),
            alias=alias if alias in ALIASES else None,
        )
    if tools == ["promote_model"]:
        target = params["promote_model"].get("target")
        return Intent(
            kind="promote",
            tasks=tasks,
            alias=target if target in ALIASES else None,
            version=params["promote_model"].get("version"),
        )
    if tools[-1] == "set_canary":
        return Intent(kind="canary", tasks=tasks, share=float(params["set_canary"]["share"]))
    return None


async def _revise(run: _Run, draft: DraftPlan, asked: Intent) -> Reply | None:
    """The draft with the change asked applied, as a new proposal; None when the message is a
    new request rather than a change to this draft."""
    base = _draft_intent(draft)
    if base is None:
        return None
    kinds, slots = _REVISABLE[base.kind]
    if asked.kind not in kinds:
        return None
    changes = {
        slot: value for slot, value in _given(asked, slots).items() if value != getattr(base, slot)
    }
    if not changes:
        return run.answer(
            f"I found no change to make to draft revision {draft.revision}. I can change its "
            + ", ".join(_SLOT_NAMES[slot] for slot in slots)
            + "."
        )
    run.asked = "as drafted"
    reply = await _HANDLERS[base.kind](run, replace(base, **changes))
    if not isinstance(reply, Proposal):
        return reply
    said = ", ".join(
        f"{_SLOT_NAMES[slot]} {_slot(slot, getattr(base, slot))} -> {_slot(slot, value)}"
        for slot, value in changes.items()
    )
    return reply.model_copy(
        update={
            "rationale": f"Revision of draft {draft.revision} ({said}). {reply.rationale}"[:4000]
        }
    )
