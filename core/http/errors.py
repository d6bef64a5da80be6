"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sentimentops.core.audit import service as audit
from sentimentops.core.db import transaction
from sentimentops.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    OAuthError,
    PolicyDenied,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from sentimentops.core.vocabulary import AuditOutcome

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    PolicyDenied: 403,
    TooManyRequests: 429,
    ServiceUnavailable: 503,
}

# RFC 6750 §3: a 401 names the scheme the client should use. The detail stays generic so that
# the response does not tell an attacker which check (signature, issuer, expiry…) failed.
WWW_AUTHENTICATE = 'Bearer realm="sentimentops", error="invalid_token"'


def _status_for(exc: DomainError) -> int:
    # Walk the class hierarchy so that subclasses (e.g. a specific NotFound) inherit a status.
    for error_type in type(exc).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return 400


def _headers_for(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": WWW_AUTHENTICATE}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return {}


async def _oauth_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    # RFC 6749 §5.2: its own body shape; invalid_client is 401 with a challenge for HTTP Basic.
    code = exc.code if isinstance(exc, OAuthError) else "server_error"
    status = 401 if code == "invalid_client" else 400
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sentimentops"'
    return JSONResponse(
        status_code=status,
        content={"error": code, "error_description": str(exc)},
        headers=headers,
    )


def _audit_denial(request: Request, exc: DomainError) -> None:
    """Policy refusals of authenticated callers land in the audit log (401s are recorded where
    authentication fails, in identity.deps)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    with transaction(request.app.state.sessions) as session:
        audit.record(
            session,
            actor=principal.actor,
            tenant=principal.tenant,
            action="authz.deny",
            resource=f"{request.method} {request.url.path}",
            outcome=AuditOutcome.DENIED,
            details={"reason": str(exc)},
        )


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DomainError):
        return JSONResponse(status_code=500, content={"error": "InternalError", "detail": ""})
    if isinstance(exc, Forbidden | PolicyDenied):
        await run_in_threadpool(_audit_denial, request, exc)
    return JSONResponse(
        status_code=_status_for(exc),
        content={"error": type(exc).__name__, "detail": str(exc)},
        headers=_headers_for(exc),
    )


def _safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors without the offending input: echoing it back can leak secrets, bloat
    the response, or make it unencodable (lone surrogates)."""
    safe = []
    for error in errors:
        item = {k: v for k, v in dict(error).items() if k not in ("input", "ctx", "url")}
        item["loc"] = [str(part) for part in item.get("loc", ())]
        safe.append(item)
    return safe


async def _validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        status_code=422, content={"error": "ValidationError", "detail": _safe_errors(errors)}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    # Starlette picks the most specific class, so this wins over DomainError for OAuthError.
    app.add_exception_handler(OAuthError, _oauth_error_handler)
