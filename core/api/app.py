"""The FastAPI application factory. Collaborators come in as arguments, so tests build the app
against the services they started instead of patching modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sentimentops import __version__
from sentimentops.core.api import health
from sentimentops.core.api.errors import install_error_handlers
from sentimentops.core.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from sentimentops.core.db import make_engine, make_session_factory
from sentimentops.core.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Readiness flips first so that a load balancer stops sending before we close.
        app.state.draining = True
        engine.dispose()

    app = FastAPI(
        title="SentimentOps",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = make_session_factory(engine)
    app.state.draining = False
    install_error_handlers(app)
    app.include_router(health.router)
    # Added last = outermost: every response, a 413 included, carries a request id.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
