"""The scenario suite (tests/agents/scenarios.py) on the LLM path: the OpenAI-compatible backend,
built from settings, against the scripted OpenAI-compatible server, over a real Toolbox on each
scenario's laid-down state; the reply is scored with the same canonical form and deepeval's
ExactMatchMetric as the planner's (bar: 95 % exactly right).

The scripted model acts as a competent model would. First it makes the reads the scenario
expects, one function call per round with the expected parameters. Then it reads the request the
backend sent it: the user's message, the history and the quoted draft, and the tool results fed
back. From those alone it writes its reply, reasoning with the planner's rules (there is no LLM
here to reason): plain text citing the numbers fed back, or a propose_plan call with the plan's
steps. So the reply's facts and steps come from what went over the wire, never from the
expectation, and whatever the backend lost on the way (a read's output, the history of a
follow-up, the draft of a revision) shows as a scenario that does not match. A real model would
word its reply its own way; the planner's wording ("Revision of draft 1 (...)", "I found no
change to make ...") is the equivalent the expected facts are written in.

Per scenario the wire itself is checked too: every request opens with the fixed system prompt,
offers the read tools and propose_plan, and streams with usage; the turn's budget counted every
token reported; the reply cites what was read; and nothing changed."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# deepeval reports usage over the network at import unless told not to.
os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] = "YES"

import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import pytest
from deepeval.metrics import ExactMatchMetric
from deepeval.test_case import LLMTestCase

from sentimentops.agents.backend import AgentBackend, Answer, Reply, Turn, make_backend
from sentimentops.agents.deterministic import DeterministicBackend
from sentimentops.agents.llm import PROPOSE, offered_tools, system_prompt
from sentimentops.agents.schemas import (
    AgentEvent,
    ChatMessage,
    DraftPlan,
    ToolCallEvent,
    ToolResultEvent,
)
from sentimentops.agents.toolbox import Budget, Toolbox
from tests.agents.conftest import ToolboxFactory
from tests.agents.openai_server import (
    Received,
    Respond,
    Scripted,
    ScriptedOpenAIServer,
    Usage,
    text,
    tool_call,
)
from tests.agents.scenarios import SCENARIOS, Scenario, canonical, first_draft, lay_down, state_of
from tests.workflows.conftest import Platform

BAR = 0.95
# What every scripted reply reports spending; the turn's budget must count all of it.
USAGE = Usage(prompt_tokens=900, completion_tokens=60)
# The model is never told a draft's hash, and revising a draft does not read it.
UNTOLD_HASH = "0" * 64


# --- The scripted model --------------------------------------------------------------------------


def _key(tool: str, params: Mapping[str, Any]) -> str:
    """A read, however its numbers were written (a window of 3600 is one of 3600.0)."""
    normal = {
        name: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        for name, value in params.items()
    }
    return json.dumps([tool, normal], sort_keys=True)


class _NotFedBack(Exception):
    """The model's reasoning needed a read whose result it was not sent."""


class _FedBack(Toolbox):
    """The tool results fed back to the model, served to the planner's rules as a Toolbox: the
    model reasons over what it was sent and runs nothing."""

    def __init__(self, outputs: dict[str, dict[str, Any]]) -> None:
        # No super().__init__: there is no context, principal or emitter, as nothing is run.
        self.budget = Budget()
        self.evidence = []
        self._outputs = outputs

    @property
    def has_knowledge(self) -> bool:
        # The model was offered search_kb; a search it was not fed back fails below.
        return True

    async def call(self, tool: str, params: dict[str, Any]) -> dict[str, Any]:
        found = self._outputs.get(_key(tool, params))
        if found is None:
            raise _NotFedBack(f"{tool} {json.dumps(params)} was never read")
        return found


def _quoted_draft(message: Mapping[str, Any]) -> DraftPlan | None:
    """The draft a user message quotes as {"type": "current_draft", ...}, if it is one."""
    if message["role"] != "user":
        return None
    _preamble, _, quoted = str(message["content"]).partition("\n")
    try:
        payload = json.loads(quoted)
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or payload.get("type") != "current_draft":
        return None
    return DraftPlan.model_validate({**payload["draft"], "plan_hash": UNTOLD_HASH})


def _read_request(
    messages: Sequence[Mapping[str, Any]], tenant: str
) -> tuple[Turn, dict[str, dict[str, Any]]]:
    """The turn and the tool results, as the model finds them in a request's messages."""
    said: list[Mapping[str, Any]] = []
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for message in messages[1:]:  # after the system prompt
        if message["role"] == "tool":
            tool, params = calls[message["tool_call_id"]]
            fed = json.loads(message["content"])
            if (fed["type"], fed["tool"]) != ("tool_output", tool):
                raise ValueError(f"{tool}'s result came back as {fed['type']} of {fed['tool']}")
            outputs[_key(tool, params)] = fed["data"]
        elif message.get("tool_calls"):
            for call in message["tool_calls"]:
                function = call["function"]
                calls[call["id"]] = (function["name"], json.loads(function["arguments"]))
        else:
            said.append(message)
    *before, asked = said
    draft = _quoted_draft(before[-1]) if before else None
    if draft is not None:
        before.pop()
    history = [
        ChatMessage(role="user" if m["role"] == "user" else "agent", content=m["content"])
        for m in before
    ]
    # The tenant only names the proposer of the templates the planner's rules fill in, whose
    # steps do not depend on it.
    turn = Turn(
        agent="planner", tenant=tenant, message=asked["content"], history=history, draft=draft
    )
    return turn, outputs


def _offered_proposal_schema(received: Received) -> dict[str, Any]:
    [offered] = [t for t in received.body["tools"] if t["function"]["name"] == PROPOSE]
    schema: dict[str, Any] = offered["function"]["parameters"]
    return schema


@dataclass
class _Model:
    """The scripted model of one scenario (see the module docstring)."""

    scenario: Scenario
    tenant: str
    problems: list[str] = field(default_factory=list)

    def script(self) -> list[Scripted | Respond]:
        reads: list[Scripted | Respond] = [
            tool_call(read.tool, dict(read.params), usage=USAGE)
            for read in self.scenario.expect.reads
        ]
        return [*reads, self.reply]

    def reply(self, received: Received) -> Scripted:
        """The reply to the request after the last read, written from what it carries."""
        try:
            return self._write(received)
        # Whatever goes wrong in the stand-in must reach the test, not turn into an HTTP 500
        # that the client retries and reports as the endpoint failing.
        except Exception as exc:  # noqa: BLE001
            self.problems.append(f"{type(exc).__name__}: {exc}")
            return text("(the scripted model failed)", usage=USAGE)

    def _write(self, received: Received) -> Scripted:
        turn, outputs = _read_request(received.body["messages"], self.tenant)
        # A worker thread of the server: no event loop runs here, so the rules get their own.
        reply = asyncio.run(DeterministicBackend().respond(turn, _FedBack(outputs)))
        if isinstance(reply, Answer):
            return text(reply.text, usage=USAGE)
        arguments = {
            "rationale": reply.rationale,
            "expected_effect": reply.expected_effect,
            # Only what differs from a step's defaults, as a model writes it.
            "steps": [step.model_dump(mode="json", exclude_defaults=True) for step in reply.steps],
        }
        # What a model fills in follows the function it was offered.
        jsonschema.validate(arguments, _offered_proposal_schema(received))
        return tool_call(PROPOSE, arguments, usage=USAGE)


# --- The suite -----------------------------------------------------------------------------------

Reads = list[tuple[str, dict[str, Any]]]


def _check_wire(
    scenario: Scenario, server: ScriptedOpenAIServer, tools: Toolbox, model_name: str
) -> None:
    """What every request of the turn carried, and what the turn spent."""
    name = scenario.name
    requests = server.requests
    assert server.remaining == 0, f"{name}: the model's script was not all asked for"
    assert len(requests) == len(scenario.expect.reads) + 1, f"{name}: {len(requests)} rounds"
    offered = json.loads(json.dumps(offered_tools()))
    fixed = {"role": "system", "content": system_prompt("planner")}
    for received in requests:
        system, *rest = received.body["messages"]
        # Equal to the fixed prompt: nothing the user wrote (the message, the history, the
        # draft) or a tool returned is in it; and no later message speaks as the system.
        assert system == fixed, f"{name}: the system prompt is not the fixed one"
        assert all(m["role"] != "system" for m in rest), f"{name}: a second system message"
        assert received.body["tools"] == offered, f"{name}: the offered tools differ"
        assert received.body["stream"] is True, f"{name}: not streamed"
        assert received.body["stream_options"] == {"include_usage": True}, name
        assert received.body["model"] == model_name, name
    assert tools.budget.tokens > 0
    assert tools.budget.tokens == len(requests) * USAGE.wire()["total_tokens"], name


async def _run(
    scenario: Scenario,
    index: int,
    platform: Platform,
    toolbox_factory: ToolboxFactory,
    server: ScriptedOpenAIServer,
    backend: AgentBackend,
) -> tuple[Reads, Reply]:
    tenant = f"scenario-llm-{index:02d}"
    lay_down(platform, tenant, scenario.state)
    # Each scenario acts as its own agent subject: policy's hourly budget is per subject.
    subject = f"agent:llm-planner-{index:02d}"
    # The draft a revision revises is the planner's, as in the planner's suite: the same draft,
    # so that the same facts ("Revision of draft 1 ...") are expected of both.
    draft = await first_draft(scenario, toolbox_factory(tenant=tenant, subject=subject, events=[]))
    model = _Model(scenario, tenant)
    server.script(model.script())
    events: list[AgentEvent] = []
    tools = toolbox_factory(tenant=tenant, subject=subject, events=events, roles=scenario.roles)
    before = state_of(platform)
    reply = await backend.respond(
        Turn(
            agent="planner",
            tenant=tenant,
            message=scenario.message,
            history=list(scenario.history),
            draft=draft,
        ),
        tools,
    )
    assert state_of(platform) == before, f"{scenario.name}: the LLM path changed state"
    assert not model.problems, f"{scenario.name}: {model.problems}"
    _check_wire(scenario, server, tools, platform.settings.llm_model)
    reads = [(e.tool, e.params) for e in events if isinstance(e, ToolCallEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    read_ok = [read for read, result in zip(reads, results, strict=True) if result.ok]
    cited = [(evidence.tool, evidence.params) for evidence in reply.evidence]
    assert cited == read_ok, f"{scenario.name}: the reply cites {cited}, not what it read"
    return reads, reply


@pytest.mark.timeout(300)
async def test_scenario_suite_on_the_llm_path(
    platform: Platform, toolbox_factory: ToolboxFactory, openai_server: ScriptedOpenAIServer
) -> None:
    settings = platform.settings.model_copy(update={"llm_base_url": openai_server.base_url})
    # The backend settings choose, as the API and the chat build it.
    backend = make_backend(settings, "planner")
    assert backend.name == "openai"
    metric = ExactMatchMetric()
    rows = []
    for index, scenario in enumerate(SCENARIOS):
        reads, reply = await _run(
            scenario, index, platform, toolbox_factory, openai_server, backend
        )
        expected = canonical(scenario.expect)
        actual = canonical(scenario.expect, reads=reads, reply=reply)
        case = LLMTestCase(input=scenario.message, actual_output=actual, expected_output=expected)
        rows.append((scenario.name, metric.measure(case, _show_indicator=False), expected, actual))
    print(f"\n{'scenario (LLM path)':<78} exact")
    for name, score, expected, actual in rows:
        print(f"{name:<78} {'yes' if score == 1.0 else 'NO'}")
        if score != 1.0:
            print(f"  expected:\n    {expected.replace(chr(10), chr(10) + '    ')}")
            print(f"  actual:\n    {actual.replace(chr(10), chr(10) + '    ')}")
    passed = sum(score == 1.0 for _name, score, _expected, _actual in rows)
    rate = passed / len(SCENARIOS)
    print(f"{passed}/{len(SCENARIOS)} exact on the LLM path ({rate:.1%}; bar {BAR:.0%})")
    assert rate >= BAR
