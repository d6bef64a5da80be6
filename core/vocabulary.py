"""The platform's words, defined once: tasks, registry aliases, roles and principal kinds, plan,
step and approval statuses, audit outcomes. Schemas, tables, Rego inputs, workflows and the CLI
all use these; the string values are the wire format (JSON, Temporal payloads, audit rows) and
never change once released."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

Task = Literal["sentiment", "sarcasm"]
TASKS: tuple[Task, ...] = get_args(Task)

# Registry aliases the platform moves (promote, rollback, canary). "candidate" is not an alias:
# scoring a candidate names a version explicitly.
Alias = Literal["production", "staging"]
ALIASES: tuple[Alias, ...] = get_args(Alias)
# Where train_model leaves a new version for evaluate/compare/promote to find.
CANDIDATE_ALIAS = "candidate"


class Role(StrEnum):
    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    ANALYST = "analyst"
    ML_ENGINEER = "ml_engineer"
    APPROVER = "approver"
    TENANT_ADMIN = "tenant_admin"
    PLATFORM_ADMIN = "platform_admin"
    # The service role of the LangGraph agents: may call tools, never approve.
    AGENT = "agent"


class PrincipalKind(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SERVICE = "service"


class PlanStatus(StrEnum):
    """A plan execution's status; the registry (plan_executions.status) and progress use it."""

    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETED = "completed"
    DENIED = "denied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    GATE_FAILED = "gate_failed"
    CANCELLED = "cancelled"


FINAL_PLAN_STATUSES = frozenset(PlanStatus) - {PlanStatus.RUNNING, PlanStatus.WAITING_APPROVAL}


class StepStatus(StrEnum):
    PENDING = "pending"
    WAITING_TIMER = "waiting_timer"
    CHECKING = "checking"  # asking OPA
    WAITING_APPROVAL = "waiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DENIED = "denied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    GATE_FAILED = "gate_failed"
    CANCELLED = "cancelled"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # the plan changed: the request no longer matches its hash
    CANCELLED = "cancelled"


class AuditOutcome(StrEnum):
    """How an audited action ended. `REQUESTED` is asked of a workflow that acts later."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    REFUSED = "refused"
    REQUESTED = "requested"
    PENDING = "pending"
