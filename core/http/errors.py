"""The one place where errors become HTTP responses: domain errors get their status codes, and
every 4xx/5xx answer (domain errors, validation, unknown routes, unparsable bodies, oversized
bodies, crashes) has one body, the error envelope:

    {"error": "<code>", "detail": "<message safe to show>", "request_id": "<X-Request-ID>"}

`code` is a stable CamelCase name (`NotFound`, `ValidationError`, `PayloadTooLarge`…); validation
errors add `errors`, a list of `{"loc", "msg", "type"}`. No message echoes the request's input.
The token endpoint alone answers in RFC 6749's own shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi import params as fastapi_params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

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
from sentimentops.core.logging import request_id_var
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
    if isinstance(exc, TooManyRequests | ServiceUnavailable) and exc.retry_after is not None:
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


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The error envelope. The request id is the one the X-Request-ID header carries, so a
    client can quote it and an operator can find the request's log lines."""
    return {"error": code, "detail": detail, **extra, "request_id": request_id_var.get()}


def error_response(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=error_body(code, detail, **extra), headers=headers
    )


def domain_error_response(exc: DomainError) -> JSONResponse:
    """The answer to a domain error, for REST handlers and WebSocket handshakes alike."""
    return error_response(_status_for(exc), type(exc).__name__, str(exc), headers=_headers_for(exc))


def internal_error_body() -> dict[str, Any]:
    # Nothing about the failure itself: it is in the server's log under the same request id.
    return error_body("InternalError", "internal server error; quote the request id to report it")


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DomainError):
        return JSONResponse(status_code=500, content=internal_error_body())
    if isinstance(exc, Forbidden | PolicyDenied):
        await run_in_threadpool(_audit_denial, request, exc)
    return domain_error_response(exc)


def _status_code_name(status: int) -> str:
    """`HTTPStatus` phrase as a code: 404 → NotFound, 405 → MethodNotAllowed."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "HTTPError"
    return "".join(word[:1].upper() + word[1:] for word in phrase.replace("-", " ").split())


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's own errors: no route (404), wrong method (405), a body that
    could not be read (400), in the envelope instead of `{"detail": "Not Found"}`."""
    if not isinstance(exc, HTTPException):
        return JSONResponse(status_code=500, content=internal_error_body())
    status = exc.status_code
    if status in (204, 304):  # no body allowed
        return Response(status_code=status, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = "no route matches this path"
    elif status == 405:
        detail = f"this route does not accept {request.method}; allowed: {headers.get('Allow', '')}"
    elif status == 400 and isinstance(exc.__cause__, UnicodeError):
        # FastAPI's "There was an error parsing the body" for a body that is not UTF-8.
        detail = "the body is not valid UTF-8; send JSON encoded as UTF-8"
    return error_response(status, _status_code_name(status), detail, headers=headers)


# Enough to fix a request; a large batch with every item wrong would otherwise list thousands.
MAX_LISTED_ERRORS = 20


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors without the offending input: echoing it back can leak secrets, bloat
    the response, or make it unencodable (lone surrogates). Only `loc`, `msg` and `type` are
    kept (pydantic also returns `input`, `ctx` and `url`)."""
    safe = []
    for raw in errors[:MAX_LISTED_ERRORS]:
        error = dict(raw)
        msg = str(error.get("msg", ""))
        context = error.get("ctx") or {}
        if error.get("type") == "json_invalid" and isinstance(context.get("error"), str):
            # json's own reason ("Expecting ',' delimiter"): where the body broke, not what it held.
            msg = f"{msg}: {context['error']}"
        safe.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": msg,
                "type": str(error.get("type", "")),
            }
        )
    return safe


def describe_errors(errors: Sequence[Any]) -> str:
    """One line for the envelope's `detail` (and the WebSocket's `error`): `loc: msg; …`."""
    safe = safe_errors(errors)
    parts = [f"{'.'.join(e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in safe]
    if len(errors) > len(safe):
        parts.append(f"and {len(errors) - len(safe)} more errors")
    return "; ".join(parts)


def _json_body_hint(request: Request) -> str | None:
    """The likely cause when a route that reads a JSON body got something else: without
    `Content-Type: application/json` FastAPI does not parse the body as JSON at all, and the
    error pydantic reports ("Input should be a valid dictionary…") does not say why."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return None
    if isinstance(route.body_field.field_info, fastapi_params.Form):
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return None
    sent = f"Content-Type {media_type}" if media_type else "no Content-Type"
    return f"send the body as JSON with Content-Type: application/json (this request had {sent})"


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = describe_errors(errors) or "invalid request"
    if any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors) and (
        hint := _json_body_hint(request)
    ):
        detail = f"{hint}; {detail}"
    return error_response(422, "ValidationError", detail, errors=safe_errors(errors))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    # Starlette's class; FastAPI's HTTPException is a subclass, so this handles both.
    app.add_exception_handler(HTTPException, _http_error_handler)
    # Starlette picks the most specific class, so this wins over DomainError for OAuthError.
    app.add_exception_handler(OAuthError, _oauth_error_handler)
    # Unhandled exceptions become the 500 envelope in RequestContextMiddleware (core/http/
    # middleware.py), which still knows the request id; Starlette's own handler runs outside it.
