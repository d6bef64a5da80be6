"""Inputs and outputs of workflows and activities: plain Pydantic models, serialised by the
Temporal Pydantic data converter."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sentimentops.core.policy import PolicyDecision, Principal


class ToolCallRequest(BaseModel):
    """One typed tool call as a plan step: who asks, for which tenant, which tool, with what."""

    principal: Principal
    tenant: str
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)


class PolicyCheckResult(BaseModel):
    decision: PolicyDecision
    audit_seq: int
