"""The FastAPI application factory. Collaborators come in as arguments, so tests build the app
against the services they started instead of patching modules."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.routing import APIRoute

from sentimentops import __version__
from sentimentops.analytics import router as analytics_api_router
from sentimentops.app import health, ui
from sentimentops.app.docs import install_docs
from sentimentops.approvals import router as approvals_router
from sentimentops.core.db import make_engine, make_read_session_factory, make_session_factory
from sentimentops.core.http.deps import flow_context
from sentimentops.core.http.errors import install_error_handlers
from sentimentops.core.http.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from sentimentops.core.metrics import Metrics
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.settings import Settings, get_settings
from sentimentops.curation import router as curation_router
from sentimentops.identity import router as identity_router
from sentimentops.identity.authn import make_auth_cache
from sentimentops.identity.cache import AuthCache
from sentimentops.identity.oidc import OidcVerifier
from sentimentops.identity.ratelimit import RateLimiter, make_rate_limiter
from sentimentops.inference import router as inference_router
from sentimentops.inference.wiring import build_scoring, build_watcher, serving_registry
from sentimentops.labeling import router as labeling_router
from sentimentops.training.datasets import router as datasets_router
from sentimentops.workflows import router as plans_router

if TYPE_CHECKING:
    from sentimentops.knowledge_base.wiring import KnowledgeRuntime


def _explicit_operation_id(route: APIRoute) -> str:
    """Every route names its operation `{tag}-{name}` itself (the generated UI client's method
    names): FastAPI's fallback (`propose_plan_api_v1_plans_post`) changes with the path, so a
    route without one is a programming error, caught when the app is built."""
    raise RuntimeError(f"route {route.path} {sorted(route.methods or ())} has no operation_id")


def create_app(
    settings: Settings | None = None,
    *,
    rate_limiter: RateLimiter | None = None,
    model_registry: ModelRegistry | None = None,
    knowledge: KnowledgeRuntime | None = None,
    serve_knowledge_queue: bool = False,
    auth_cache: AuthCache | None = None,
) -> FastAPI:
    """The API. `knowledge` replaces the knowledge base the settings name; with
    `serve_knowledge_queue` (the `api` command) this process also serves the knowledge base's
    Temporal queue, since it holds the store (knowledge_base/wiring.py)."""
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    read_sessions = make_read_session_factory(engine)
    limiter = rate_limiter or make_rate_limiter(settings.redis_url)
    principals = auth_cache or make_auth_cache(settings)
    oidc = OidcVerifier(settings.oidc_issuers) if settings.oidc_issuers else None
    metrics = Metrics()
    scoring = build_scoring(settings, sessions, metrics)
    watcher = build_watcher(settings, scoring, sessions, model_registry)
    # The agents come with the `agents` extra; a scoring-only install serves without them.
    with_agents = importlib.util.find_spec("langgraph") is not None
    # So does the knowledge base (Qdrant's client).
    with_kb = importlib.util.find_spec("qdrant_client") is not None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Subscribed before the first request: with Redis, the cache answers only once it is.
        await asyncio.to_thread(principals.start)
        scoring.prediction_log.start()
        watcher.start(settings.model_poll_seconds)
        kb_queue: asyncio.Task[None] | None = None
        if with_kb and serve_knowledge_queue:
            from sentimentops.knowledge_base.workflow import serve_knowledge_queue as serve_kb

            kb_queue = asyncio.create_task(serve_kb(settings, app.state.knowledge))
        if app.state.slack is not None:
            app.state.slack.start()
        yield
        # Readiness flips first so that a load balancer stops sending before we close.
        app.state.draining = True
        if app.state.slack is not None:
            await app.state.slack.close()  # its tracked work may still use the agents
        await watcher.stop()
        await scoring.slots.close()
        await scoring.prediction_log.close()
        if with_agents:
            await app.state.agents.close()
        if kb_queue is not None:
            kb_queue.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kb_queue
        if with_kb:
            app.state.text_analytics.close()
            app.state.knowledge.close()
        limiter.close()
        principals.close()
        if oidc is not None:
            oidc.close()
        engine.dispose()

    app = FastAPI(
        title="SentimentOps",
        generate_unique_id_function=_explicit_operation_id,
        version=__version__,
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN: install_docs serves them.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.read_sessions = read_sessions
    app.state.draining = False
    app.state.rate_limiter = limiter
    app.state.auth_cache = principals
    app.state.oidc = oidc
    app.state.metrics = metrics
    app.state.scoring = scoring
    app.state.model_watcher = watcher
    app.state.temporal_client = None  # connected on first use (plans, approvals)
    app.state.flows = flow_context(app)
    if with_agents:
        from sentimentops.agents.wiring import LazyAgentRuntime

        agents_registry = model_registry or serving_registry(settings)
        app.state.agents = LazyAgentRuntime(
            app.state.flows,
            registry=lambda: agents_registry,
            # The knowledge base wired below: the agents' search_kb reads it in this process.
            knowledge=(lambda: app.state.knowledge) if with_kb else None,
        )
    # The Slack app (docs/slack.md): only with its bot token and signing secret set; without
    # them there is no Slack route and no updater, and approvals go through the API and CLI.
    app.state.slack = None
    if with_agents and settings.slack_bot_token and settings.slack_signing_secret:
        from sentimentops.app.slack import build_slack

        app.state.slack = build_slack(settings, app.state.flows, agents=app.state.agents.get)
    if with_kb:
        from sentimentops.knowledge_base.analytics import TextAnalytics
        from sentimentops.knowledge_base.wiring import KnowledgeRuntime

        kb_registry = model_registry or serving_registry(settings)
        app.state.knowledge = knowledge or KnowledgeRuntime(
            settings, sessions=read_sessions, registry=lambda: kb_registry
        )
        # Scored-text analytics embed with the knowledge base's encoder (one per process).
        app.state.text_analytics = TextAnalytics(
            settings, embedder=lambda: app.state.knowledge.service().embedder
        )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(identity_router.public_router)
    app.include_router(identity_router.router)
    app.include_router(inference_router.router)
    app.include_router(inference_router.stream_router)
    app.include_router(approvals_router.router)
    app.include_router(datasets_router.router)
    app.include_router(labeling_router.feedback_router)
    app.include_router(labeling_router.router)
    app.include_router(curation_router.router)
    app.include_router(analytics_api_router.router)
    app.include_router(plans_router.router)
    app.include_router(plans_router.sentry_router)
    if with_agents:
        from sentimentops.agents import router as agents_router

        app.include_router(agents_router.router)
    if with_kb:
        from sentimentops.knowledge_base import analytics_router
        from sentimentops.knowledge_base import router as kb_router

        app.include_router(kb_router.router)
        app.include_router(analytics_router.router)
    if app.state.slack is not None:
        from sentimentops.approvals.slack.router import slack_router

        app.include_router(slack_router(app.state.slack))
    install_docs(app)
    # Last: its catch-all answers client-side routes of the web UI that no route above matched.
    app.include_router(ui.router)
    # Added last = outermost: every response, a 413 included, carries a request id.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        upload_limits={
            datasets_router.UPLOAD_PATH: min(
                settings.max_dataset_upload_bytes, settings.max_dataset_bytes
            )
        },
    )
    app.add_middleware(RequestContextMiddleware)
    return app
