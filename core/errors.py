"""Domain errors. Services raise these; exactly one module (core/http/errors.py) maps them to HTTP
status codes, and the CLI prints them as messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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
    """The caller is authenticated but a named permission refused the operation."""


class TooManyRequests(DomainError):
    """A rate limit or quota was exceeded; `retry_after` is whole seconds until it may succeed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(DomainError):
    """A dependency (OPA, Temporal, the database) did not answer. `retry_after`, when known, is
    whole seconds after which trying again is worthwhile (sent as Retry-After)."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = None if retry_after is None else max(1, retry_after)


class OAuthError(DomainError):
    """An RFC 6749 §5.2 error of a token endpoint; `code` is the protocol's error code. Here, not
    in identity, because its HTTP shape is part of the one error mapping (core.http.errors)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code


@contextmanager
def temporal_errors(what: str) -> Iterator[None]:
    """Temporal's failures as domain errors, mapped once here: a workflow that is gone is
    `NotFound`, one already running under that id is `Conflict`, anything else (server away, no
    worker answering a query, connection refused) is `ServiceUnavailable`. `what` says what was
    being done, for the message."""
    # Imported here: the scoring-only install imports this module and never talks to Temporal.
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError, RPCStatusCode

    try:
        yield
    except WorkflowAlreadyStartedError as exc:
        raise Conflict(f"{what}: already running") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"{what}: Temporal does not know it") from exc
        raise ServiceUnavailable(f"{what}: Temporal refused ({exc})") from exc
    except RuntimeError as exc:  # the client could not connect
        raise ServiceUnavailable(f"{what}: Temporal did not answer ({exc})") from exc
