"""`Annotated` dependency aliases for handlers (settings, sessions, the Temporal client) and
the "public" authorization marker. The "authenticated" marker lives in identity.deps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session
from temporalio.client import Client

from sentimentops.core.flows import FlowContext
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import connect


# The app-state getters below are async although they never wait: FastAPI runs a plain `def`
# dependency in a worker thread, a hop per request for an attribute read.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for handlers that only read: on SQLite it never takes the write lock."""
    with request.app.state.read_sessions() as session:
        yield session


def flow_context(app: FastAPI) -> FlowContext:
    """The app's flow context; its Temporal client connects on first use (in the app's event
    loop), so a request refused for its input or its tenant never waits on Temporal."""

    async def connect_once() -> Client:
        client: Client | None = app.state.temporal_client
        if client is None:
            client = await connect(app.state.settings)
            app.state.temporal_client = client
        return client

    return FlowContext(
        settings=app.state.settings,
        sessions=app.state.sessions,
        read_sessions=app.state.read_sessions,
        connect_temporal=connect_once,
    )


async def get_flow_context(request: Request) -> FlowContext:
    flows: FlowContext = request.app.state.flows
    return flows


async def public_route() -> None:
    """Authorization decision "public": the route reveals nothing tenant- or user-specific."""


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
FlowDep = Annotated[FlowContext, Depends(get_flow_context)]


PUBLIC = Depends(public_route)
