"""Domain errors. Services raise these; exactly one module (core/api/errors.py) maps them to HTTP
status codes, and the CLI prints them as messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a failure the caller can act on, with a message safe to show to them."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class PolicyDenied(DomainError):
    pass


class ServiceUnavailable(DomainError):
    """A dependency (OPA, Temporal, the database) did not answer."""
