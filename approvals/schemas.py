"""API shapes of approval requests and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApprovalSubject(BaseModel):
    """What an approval request is about: the plan step (bound to the plan's hash), who
    proposed it and why policy wants a human. The workflow's request, the notification and the
    API's answer all carry these fields."""

    workflow_id: str
    plan_hash: str
    step_index: int
    tool: str
    params: dict[str, Any]
    requester: str
    rationale: str
    reasons: list[str]
    # The person who asked an agent for the plan (audit actor); policy may refuse them as its
    # approver (policies/rego/sentimentops/approvals.rego). None for plans nobody asked for.
    requested_by: str | None = None


def subject_of(model: ApprovalSubject) -> dict[str, Any]:
    """The subject's fields of `model` (any of its subclasses), to pass on as keywords."""
    return {name: getattr(model, name) for name in ApprovalSubject.model_fields}


class ApprovalOut(ApprovalSubject):
    model_config = ConfigDict(from_attributes=True)

    id: str
    requester_kind: str
    required_role: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    workflow_url: str | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)
    # The plan hash the approver reviewed; a mismatch refuses the decision (the plan changed).
    plan_hash: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")


# The plan workflow's signal that carries a decision (workflows/plan.py registers it by this name).
APPROVAL_SIGNAL = "approval"


class ApprovalSignal(BaseModel):
    """An approver's decision, bound to the plan hash and step it was given for."""

    approval_id: str
    plan_hash: str
    step_index: int
    approved: bool
    decided_by: str
    comment: str | None = None
