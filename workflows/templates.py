"""Plan templates: the model lifecycle and rollback as plans of typed tool calls. The flows
(workflows/flows.py) fill in the caller and the settings' defaults; agents will propose them
too."""

from __future__ import annotations

from typing import Any

from sentimentops.core.policy import Principal
from sentimentops.workflows.schemas import Plan, PlanStep


def lifecycle_plan(
    *,
    tenant: str,
    proposer: Principal,
    task: str,
    family: str,
    max_train_samples: int | None = None,
    soak_seconds: float = 300.0,
    canary_share: float = 0.1,
    approval_timeout_seconds: float = 86_400.0,
    dataset_version: str | None = None,
) -> Plan:
    """The model lifecycle as a plan: validate → train → evaluate → compare → staging →
    canary → soak → production (approval) → end canary; a failed soak ends the canary and rolls
    staging back. `dataset_version` (a dataset version's id) trains on that version instead of
    the reference data; it is in the plan only when given, so other plans keep their hash."""
    version = "${steps.1.version}"
    train: dict[str, Any] = {"task": task, "family": family}
    rationale = f"model lifecycle: {family} for {task}"
    if max_train_samples is not None:
        train["max_train_samples"] = max_train_samples
    if dataset_version is not None:
        train["dataset_version"] = dataset_version
        rationale += f" on dataset version {dataset_version}"
    return Plan(
        tenant=tenant,
        proposer=proposer,
        rationale=rationale,
        approval_timeout_seconds=approval_timeout_seconds,
        steps=[
            PlanStep(tool="validate_dataset", params={"task": task}, gate=True),
            PlanStep(tool="train_model", params=train),
            PlanStep(tool="evaluate_model", params={"task": task, "version": version}, gate=True),
            PlanStep(
                tool="compare_models",
                params={"task": task, "candidate_version": version},
                gate=True,
            ),
            PlanStep(
                tool="promote_model",
                params={"task": task, "version": version, "target": "staging"},
            ),
            PlanStep(tool="set_canary", params={"task": task, "share": canary_share}),
            PlanStep(
                tool="get_service_metrics",
                params={"task": task, "alias": "staging", "window_seconds": max(1, soak_seconds)},
                delay_seconds=soak_seconds,
                gate=True,
                rationale="soak: the canary's latency and errors must stay within the gates",
                on_gate_failure=[
                    PlanStep(tool="set_canary", params={"task": task, "share": 0.0}),
                    PlanStep(tool="rollback_model", params={"task": task, "alias": "staging"}),
                ],
            ),
            PlanStep(
                tool="promote_model",
                params={"task": task, "version": version, "target": "production"},
                rationale="the candidate passed the gates and the soak",
            ),
            PlanStep(tool="set_canary", params={"task": task, "share": 0.0}),
        ],
    )


def rollback_plan(
    *, tenant: str, proposer: Principal, task: str, alias: str = "production", steps: int = 1
) -> Plan:
    return Plan(
        tenant=tenant,
        proposer=proposer,
        rationale=f"roll {task}@{alias} back {steps} version(s)",
        steps=[
            PlanStep(tool="rollback_model", params={"task": task, "alias": alias, "steps": steps})
        ],
    )
