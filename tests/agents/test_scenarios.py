"""The deterministic planner against the scenario suite (tests/agents/scenarios.py), scored with
deepeval's ExactMatchMetric over the canonical form of each reply: the reads it made, answer or
proposal, the plan's tools and key parameters, and the facts its text must cite. Bar: at least
95 % of scenarios exactly right. Whatever the score, no scenario may change anything."""

from __future__ import annotations

import os
from typing import Any

# deepeval reports usage over the network at import unless told not to.
os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] = "YES"

import pytest
from deepeval.metrics import ExactMatchMetric
from deepeval.test_case import LLMTestCase

from sentimentops.agents.backend import BudgetExceeded, Reply, Turn
from sentimentops.agents.deterministic import DeterministicBackend
from sentimentops.agents.schemas import AgentEvent, ToolCallEvent
from sentimentops.agents.toolbox import Budget
from tests.agents.conftest import ToolboxFactory
from tests.agents.scenarios import (
    SCENARIOS,
    Scenario,
    State,
    canonical,
    first_draft,
    lay_down,
    state_of,
)
from tests.workflows.conftest import Platform

BAR = 0.95


async def _run(
    scenario: Scenario, index: int, platform: Platform, toolbox_factory: ToolboxFactory
) -> tuple[list[tuple[str, dict[str, Any]]], Reply]:
    tenant = f"scenario-{index:02d}"
    lay_down(platform, tenant, scenario.state)
    backend = DeterministicBackend()
    # Each scenario acts as its own agent subject: policy's hourly budget is per subject.
    subject = f"agent:planner-{index:02d}"
    draft = await first_draft(scenario, toolbox_factory(tenant=tenant, subject=subject, events=[]))
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
    assert state_of(platform) == before, f"{scenario.name}: the planner changed state"
    reads = [(e.tool, e.params) for e in events if isinstance(e, ToolCallEvent)]
    return reads, reply


@pytest.mark.timeout(900)
async def test_scenario_suite(platform: Platform, toolbox_factory: ToolboxFactory) -> None:
    assert len(SCENARIOS) >= 40
    metric = ExactMatchMetric()
    rows = []
    passed = 0
    for index, scenario in enumerate(SCENARIOS):
        reads, reply = await _run(scenario, index, platform, toolbox_factory)
        expected = canonical(scenario.expect)
        actual = canonical(scenario.expect, reads=reads, reply=reply)
        case = LLMTestCase(input=scenario.message, actual_output=actual, expected_output=expected)
        score = metric.measure(case, _show_indicator=False)
        passed += score == 1.0
        rows.append((scenario.name, score, expected, actual))
    print(f"\n{'scenario':<78} exact")
    for name, score, expected, actual in rows:
        print(f"{name:<78} {'yes' if score == 1.0 else 'NO'}")
        if score != 1.0:
            print(f"  expected:\n    {expected.replace(chr(10), chr(10) + '    ')}")
            print(f"  actual:\n    {actual.replace(chr(10), chr(10) + '    ')}")
    rate = passed / len(SCENARIOS)
    print(f"{passed}/{len(SCENARIOS)} exact ({rate:.1%}; bar {BAR:.0%})")
    assert rate >= BAR


async def test_a_turn_over_its_tool_budget_stops(
    platform: Platform, toolbox_factory: ToolboxFactory
) -> None:
    lay_down(platform, "scenario-budget", State())
    tools = toolbox_factory(
        tenant="scenario-budget",
        subject="agent:planner-budget",
        events=[],
        budget=Budget(max_tool_calls=2),
    )
    # No task named: latency reads three tools for each task, more than the budget allows.
    turn = Turn(agent="planner", tenant="scenario-budget", message="why is latency high?")
    with pytest.raises(BudgetExceeded, match="2 tool calls"):
        await DeterministicBackend().respond(turn, tools)
