"""The deterministic planner against the scenario suite (tests/agents/scenarios.py), scored with
deepeval's ExactMatchMetric over the canonical form of each reply: the reads it made, answer or
proposal, the plan's tools and key parameters, and the facts its text must cite. Bar: at least
95 % of scenarios exactly right. Whatever the score, no scenario may change anything."""

from __future__ import annotations

import hashlib
import os
from typing import Any

# deepeval reports usage over the network at import unless told not to.
os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] = "YES"

import pytest
from deepeval.metrics import ExactMatchMetric
from deepeval.test_case import LLMTestCase
from sqlalchemy import func, select

from sentimentops.agents.backend import BudgetExceeded, Proposal, Reply, Turn
from sentimentops.agents.deterministic import DeterministicBackend
from sentimentops.agents.schemas import AgentEvent, DraftPlan, ToolCallEvent
from sentimentops.agents.toolbox import Budget
from sentimentops.core.vocabulary import TASKS
from sentimentops.inference.models import CanaryShare
from sentimentops.tools.models import PromotionEvent
from sentimentops.workflows.models import PlanExecution
from tests.agents.conftest import ToolboxFactory
from tests.agents.scenarios import SCENARIOS, Scenario, State, canonical, lay_down
from tests.workflows.conftest import Platform

BAR = 0.95


def _state_of(platform: Platform) -> dict[str, Any]:
    """What a planner must never change: aliases, canary shares, promotions, plans."""
    aliases = {
        (task, alias): platform.alias(alias, task)
        for task in TASKS
        for alias in ("production", "staging", "candidate")
    }
    with platform.sessions() as session:
        query = select(CanaryShare.tenant_id, CanaryShare.task, CanaryShare.share)
        shares = sorted(tuple(row) for row in session.execute(query))
        promotions = session.execute(select(func.count()).select_from(PromotionEvent)).scalar_one()
        plans = session.execute(select(func.count()).select_from(PlanExecution)).scalar_one()
    return {"aliases": aliases, "shares": shares, "promotions": promotions, "plans": plans}


async def _run(
    scenario: Scenario, index: int, platform: Platform, toolbox_factory: ToolboxFactory
) -> tuple[list[tuple[str, dict[str, Any]]], Reply]:
    tenant = f"scenario-{index:02d}"
    lay_down(platform, tenant, scenario.state)
    backend = DeterministicBackend()
    # Each scenario acts as its own agent subject: policy's hourly budget is per subject.
    subject = f"agent:planner-{index:02d}"
    draft = None
    if scenario.draft_from is not None:
        first = await backend.respond(
            Turn(agent="planner", tenant=tenant, message=scenario.draft_from),
            toolbox_factory(tenant=tenant, subject=subject, events=[]),
        )
        assert isinstance(first, Proposal), f"{scenario.name}: no draft to revise"
        draft = DraftPlan(
            revision=1,
            plan_hash=hashlib.sha256(first.model_dump_json().encode()).hexdigest(),
            rationale=first.rationale,
            expected_effect=first.expected_effect,
            steps=first.steps,
            evidence=first.evidence,
        )
    events: list[AgentEvent] = []
    tools = toolbox_factory(tenant=tenant, subject=subject, events=events, roles=scenario.roles)
    before = _state_of(platform)
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
    assert _state_of(platform) == before, f"{scenario.name}: the planner changed state"
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
