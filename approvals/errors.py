"""Approval errors: subclasses of the core domain errors, so core/http/errors.py maps them."""

from __future__ import annotations

from sentimentops.core.errors import Conflict, Forbidden, InvalidInput


class ApprovalRefused(Forbidden):
    """The caller may not decide this request (no approver role, or it proposed the plan)."""


class ApprovalClosed(Conflict):
    """The request is no longer pending: decided, expired, or superseded by a changed plan."""


class UnsafeWebhookTarget(InvalidInput):
    """A webhook URL points at a private, loopback or link-local address not allow-listed."""
