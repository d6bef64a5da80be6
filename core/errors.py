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


class Unauthorized(DomainError):
    """Missing, malformed, expired or unknown credentials (the caller is not authenticated)."""


class Forbidden(DomainError):
    """The caller is authenticated but a named policy refused the operation."""


class TooManyRequests(DomainError):
    """A rate limit or quota was exceeded; `retry_after` is whole seconds until it may succeed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(DomainError):
    """A dependency (OPA, Temporal, the database) did not answer."""
