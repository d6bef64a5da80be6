"""Liveness, readiness and version: the public face of the process (`/` is app/ui.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from sentimentops import __version__
from sentimentops.core.http.deps import PUBLIC, SessionDep

# Public by design: load balancers and humans need these without credentials, and they expose
# no tenant data (readiness names failing checks, never their error details).
router = APIRouter(dependencies=[PUBLIC], tags=["platform"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, bool]


class VersionInfo(BaseModel):
    name: str
    version: str


@router.get("/healthz", operation_id="platform-healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="platform-readyz",
    responses={503: {"model": Readiness}},
)
def readyz(request: Request, session: SessionDep) -> JSONResponse:
    checks: dict[str, bool] = {}
    try:
        session.execute(text("SELECT 1 FROM audit_chain_head"))
        checks["database"] = True
    except Exception:  # noqa: BLE001 - any failure means "not ready", reported, not raised
        checks["database"] = False
    # Every task the service is configured for must have a model loaded (503 until then).
    slots = request.app.state.scoring.slots
    for task in request.app.state.settings.serving_tasks:
        loaded = slots.get(task, "production") or slots.get(task, "staging")
        checks[f"model:{task}"] = loaded is not None
    checks["accepting_traffic"] = not request.app.state.draining
    ready = all(checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())


@router.get("/api/v1/version", operation_id="platform-version")
def version() -> VersionInfo:
    return VersionInfo(name="sentimentops", version=__version__)
