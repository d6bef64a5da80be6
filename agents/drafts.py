"""From a backend's proposal to the draft a person reads: the plan as it will be submitted
(the agent as proposer, the asker named), its hash, and a readable diff of what would change."""

from __future__ import annotations

import asyncio
from typing import Any

from sentimentops.agents.backend import Proposal
from sentimentops.agents.schemas import DraftPlan
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.workflows.schemas import STEP_REFERENCE, Plan, PlanStep, plan_hash


def build_plan(
    proposal: Proposal,
    *,
    tenant: str,
    proposer: PolicyPrincipal,
    requested_by: str | None,
    approval_timeout_seconds: float,
) -> Plan:
    return Plan(
        tenant=tenant,
        proposer=proposer,
        rationale=proposal.rationale,
        steps=proposal.steps,
        approval_timeout_seconds=approval_timeout_seconds,
        requested_by=requested_by,
    )


def _version(value: Any) -> str:
    if value is None:
        return "the candidate"
    match = STEP_REFERENCE.match(str(value))
    if match:
        return f"the version step {match.group(1)} produces"
    return f"v{value}"


def _alias_state(registry: ModelRegistry, task: str, alias: str) -> str:
    found = registry.version_for_alias(task, alias)
    return f"v{found.version}" if found is not None else "none"


def _step_diff(
    registry: ModelRegistry, step: PlanStep, canary: dict[str, float], conditional: bool
) -> list[str]:
    params = step.params
    task = str(params.get("task", "?"))
    when = " (only if a gate fails)" if conditional else ""
    if step.tool == "promote_model":
        target = str(params.get("target"))
        before = _alias_state(registry, task, target)
        return [f"{task} {target}: {before} -> {_version(params.get('version'))}{when}"]
    if step.tool == "rollback_model":
        alias = str(params.get("alias", "production"))
        steps = int(params.get("steps", 1))
        before = _alias_state(registry, task, alias)
        back = "the previous version" if steps == 1 else f"{steps} versions back"
        return [f"{task} {alias}: {before} -> {back}{when}"]
    if step.tool == "set_canary":
        share = float(params.get("share", 0.0))
        current = canary.get(task, 0.0)
        canary[task] = share
        return [f"{task} canary share: {current:.0%} -> {share:.0%}{when}"]
    if step.tool == "train_model":
        family = params.get("family", "the default family")
        return [f"{task}: a new version trained ({family}) and registered as candidate{when}"]
    return []


def diff_lines(
    registry: ModelRegistry, steps: list[PlanStep], canary_shares: dict[str, float]
) -> list[str]:
    """What moves, step by step, from the registry's and the canary's current state."""
    canary = dict(canary_shares)
    lines: list[str] = []
    for step in steps:
        lines += _step_diff(registry, step, canary, conditional=False)
        for fallback in step.on_gate_failure:
            lines += _step_diff(registry, fallback, dict(canary), conditional=True)
    return lines or ["nothing changes: every step only reads"]


async def make_draft(
    proposal: Proposal,
    *,
    plan: Plan,
    revision: int,
    registry: ModelRegistry,
    canary_shares: dict[str, float],
) -> DraftPlan:
    diff = await asyncio.to_thread(diff_lines, registry, proposal.steps, canary_shares)
    return DraftPlan(
        revision=revision,
        plan_hash=plan_hash(plan),
        rationale=proposal.rationale,
        expected_effect=proposal.expected_effect,
        steps=proposal.steps,
        evidence=proposal.evidence,
        diff=diff,
    )
