"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sentimentops.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PolicyDenied,
    ServiceUnavailable,
)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    PolicyDenied: 403,
    ServiceUnavailable: 503,
}


def _status_for(exc: DomainError) -> int:
    # Walk the class hierarchy so that subclasses (e.g. a specific NotFound) inherit a status.
    for error_type in type(exc).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return 400


async def _domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    status = _status_for(exc) if isinstance(exc, DomainError) else 500
    return JSONResponse(
        status_code=status,
        content={"error": type(exc).__name__, "detail": str(exc)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
