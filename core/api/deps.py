"""`Annotated` dependency aliases used by handlers, and the authorization markers.

Every route must carry exactly one authorization decision: `public_route` (a commented, explicit
exception) or an authenticated principal (added with the identity work). The route-coverage test
(tests/test_api_authz_coverage.py) fails when a route has neither."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sentimentops.core.settings import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def public_route() -> None:
    """Authorization decision "public": the route reveals nothing tenant- or user-specific."""


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PUBLIC = Depends(public_route)

AUTHZ_DEPENDENCIES = frozenset({public_route})
