"""Inputs and outputs of workflows and activities (plain Pydantic models, serialised by the
Temporal Pydantic data converter), and the plans API's request and response shapes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentimentops.approvals.schemas import ApprovalSubject
from sentimentops.core.policy import PolicyDecision, Principal
from sentimentops.core.vocabulary import Alias, Task


class ToolCallRequest(BaseModel):
    """One typed tool call as a plan step: who asks, for which tenant, which tool, with what."""

    principal: Principal
    tenant: str
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    # Facts of the plan for the policy (its hash, the approvals it received, who asked for it;
    # policies/rego/sentimentops/tools.rego reads them as input.context).
    context: dict[str, Any] = Field(default_factory=dict)


class PolicyCheckResult(BaseModel):
    decision: PolicyDecision
    audit_seq: int


# --- Plans ---------------------------------------------------------------------------------

# The deployment sentry's name as the proposer of its check plans (an agent).
SENTRY_SUBJECT = "deployment-sentry"

# A parameter value "${steps.N.field}" is replaced by field `field` of step N's result (the
# whole value, keeping its type), e.g. the version that the training step registered.
STEP_REFERENCE = re.compile(r"^\$\{steps\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)\}$")


class PlanStep(BaseModel):
    """One typed tool call of a plan."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = Field(default="", max_length=2000)
    # A durable timer before the step (the soak period of a canary).
    delay_seconds: float = Field(default=0.0, ge=0, le=30 * 86_400)
    # The step's result has `passed`; false stops the plan ("gate_failed") after the
    # on_gate_failure steps (e.g. ending the canary) have run.
    gate: bool = False
    on_gate_failure: list[PlanStep] = Field(default_factory=list)


class Plan(BaseModel):
    """Ordered tool calls proposed by a person or an agent for one tenant."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    proposer: Principal
    rationale: str = Field(max_length=4000)
    steps: list[PlanStep] = Field(min_length=1, max_length=100)
    approval_timeout_seconds: float = Field(default=86_400.0, ge=1, le=30 * 86_400)
    # The person who asked an agent for this plan (their audit actor); None when the proposer
    # asked for itself. Approval rules can refuse them as approver of the agent's plan.
    requested_by: str | None = Field(default=None, max_length=255)


# Fields added after plans were first hashed: left out of the hash while unset, so that a plan
# without them keeps the hash it had (recorded approvals and histories stay bound).
_HASH_OPTIONAL = (("requested_by",), ("proposer", "agent"), ("proposer", "tenant_id"))


def plan_hash(plan: Plan) -> str:
    """sha256 of the plan's canonical JSON: what an approval is bound to."""
    data = plan.model_dump(mode="json")
    for *path, key in _HASH_OPTIONAL:
        holder = data
        for part in path:
            holder = holder[part]
        if holder.get(key) is None:
            holder.pop(key, None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class PlanExecutionInput(BaseModel):
    plan: Plan
    task_queue: str
    training_task_queue: str
    training_heartbeat_seconds: float = 30.0
    # PyTorch families' training goes here when set (a GPU worker); else the training queue.
    gpu_task_queue: str | None = None


class StepState(BaseModel):
    index: int
    tool: str
    # pending | waiting_timer | checking | waiting_approval | running | succeeded | denied |
    # rejected | expired | failed | gate_failed | skipped | cancelled
    status: str = "pending"
    fallback_of: int | None = None
    policy_reasons: list[str] = Field(default_factory=list)
    approval_id: str | None = None
    approved_by: str | None = None
    params: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class PlanProgress(BaseModel):
    workflow_id: str
    plan_hash: str
    tenant: str
    proposer: str
    # running | waiting_approval | completed | denied | rejected | expired | failed |
    # gate_failed | cancelled
    status: str
    current_step: int | None
    message: str = ""
    steps: list[StepState]


class AmendPlan(BaseModel):
    """New steps replacing the plan's steps that have not started; the plan hash changes, so
    approvals given for the old plan no longer count."""

    steps: list[PlanStep] = Field(min_length=1, max_length=100)
    amended_by: str


class ToolCall(BaseModel):
    """The input of every tool activity."""

    tool: str
    tenant: str
    actor: str
    params: dict[str, Any]
    idempotency_key: str
    workflow_id: str | None = None
    tenant_id: str | None = None  # the proposer's (core.policy.Principal.tenant_id)


class CreateApproval(ApprovalSubject):
    tenant: str
    requester_kind: str
    ttl_seconds: float
    tenant_id: str | None = None  # the proposer's (core.policy.Principal.tenant_id)


class ApprovalTicket(BaseModel):
    approval_id: str
    expires_at: datetime


class CloseApproval(BaseModel):
    approval_id: str
    status: str  # expired | superseded | cancelled
    actor: str


class WorkflowEvent(BaseModel):
    """Something the workflow decided, for the audit log."""

    actor: str
    tenant: str
    action: str
    outcome: str
    details: dict[str, Any] = Field(default_factory=dict)


class PlanStarted(BaseModel):
    """A plan execution began: its registry row is (re)written and the start audited."""

    tenant: str
    proposer: str
    plan_hash: str
    rationale: str
    tools: list[str]
    tenant_id: str | None = None  # the proposer's (core.policy.Principal.tenant_id)


class PlanFinished(BaseModel):
    """A plan execution ended with `status`: its registry row is closed and the end audited."""

    tenant: str
    proposer: str
    plan_hash: str
    status: str
    message: str


# --- The plans API ------------------------------------------------------------------------------

WORKFLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$"


class PlanIn(BaseModel):
    """A plan proposed over the API; its tenant and proposer are the caller's."""

    model_config = ConfigDict(extra="forbid")

    rationale: str = Field(min_length=1, max_length=4000)
    steps: list[PlanStep] = Field(min_length=1, max_length=100)
    approval_timeout_seconds: float = Field(default=86_400.0, ge=1, le=30 * 86_400)


class LifecycleIn(BaseModel):
    """The model-lifecycle template: validate → train → evaluate → compare → staging → canary →
    soak → production (approval). Unset values come from the platform's settings."""

    model_config = ConfigDict(extra="forbid")

    task: Task
    family: Literal["tfidf_lr", "notebook", "minilm"] = "tfidf_lr"
    max_train_samples: int | None = Field(default=None, ge=2)
    soak_seconds: float | None = Field(default=None, ge=0, le=30 * 86_400)
    canary_share: float | None = Field(default=None, ge=0, le=1)
    dataset_version: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8,64}$",
        description=(
            "train on this dataset version of the tenant (id, or a unique prefix of 8+ hex "
            "digits of its id or content hash) instead of the reference data"
        ),
    )


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Task
    alias: Alias = "production"
    steps: int = Field(default=1, ge=1, le=20)


class AmendIn(BaseModel):
    """New steps for the part of the plan that has not started."""

    model_config = ConfigDict(extra="forbid")

    steps: list[PlanStep] = Field(min_length=1, max_length=100)


class PlanAccepted(BaseModel):
    workflow_id: str
    plan_hash: str
    status_url: str
    workflow_url: str | None = None


class PlanRequested(BaseModel):
    """A change asked of a running plan (amend, cancel); follow it at `status_url`."""

    workflow_id: str
    status_url: str


class PlanSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    proposer: str
    plan_hash: str
    rationale: str
    tools: list[str]
    # running | waiting_approval | completed | denied | rejected | expired | failed |
    # gate_failed | cancelled
    status: str
    message: str
    created_at: datetime
    finished_at: datetime | None
    workflow_url: str | None = None


class PlanDetail(BaseModel):
    plan: PlanSummary
    # Live progress from the workflow; None when Temporal no longer holds it (retention).
    progress: PlanProgress | None


class SentryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Task
    interval_seconds: float = Field(default=300.0, ge=1, le=86_400)
    window_seconds: float = Field(default=900.0, gt=0, le=30 * 86_400)


class SentryOut(BaseModel):
    task: str
    workflow_id: str
    running: bool
    status: str | None = None  # Temporal's: RUNNING, CANCELED, FAILED, …
    started_at: datetime | None = None
    workflow_url: str | None = None
