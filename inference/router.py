"""HTTP and WebSocket routes of the scoring service (thin: policy, then one service call)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError

from sentimentops.core.errors import DomainError, Forbidden, Unauthorized
from sentimentops.core.http.errors import describe_errors, domain_error_response
from sentimentops.core.logging import request_id_var
from sentimentops.core.vocabulary import TASKS, Task
from sentimentops.identity import authn
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal, authenticate_connection
from sentimentops.identity.principal import Principal
from sentimentops.identity.ratelimit import retry_after_header
from sentimentops.inference import permissions, service
from sentimentops.inference.schemas import (
    Analysis,
    AnalyzeResponse,
    ModelRef,
    ScoreRequest,
    ScoreResponse,
    StreamRequest,
    StreamResult,
)
from sentimentops.inference.service import Scoring

router = APIRouter(prefix="/api/v1", dependencies=[AUTHENTICATED], tags=["scoring"])
# The stream authenticates inside its handshake (browsers cannot send headers on WebSockets).
stream_router = APIRouter(prefix="/api/v1", tags=["scoring"])


async def get_scoring(request: Request) -> Scoring:
    scoring: Scoring = request.app.state.scoring
    return scoring


ScoringDep = Annotated[Scoring, Depends(get_scoring)]


async def _score(
    scoring: Scoring, principal: Principal, task: Task, body: ScoreRequest, route: str
) -> ScoreResponse:
    # Every turn is bounded like a text, although models read only the last one.
    service.check_limits(scoring.limits, body.items, explain=body.explain, contexts=body.turns)
    predictions = await service.score(
        scoring,
        task=task,
        texts=body.items,
        contexts=body.contexts,
        tenant_id=principal.tenant_id,
        tenant_label=principal.tenant,
        route=route,
        explain=body.explain,
        request_key=request_id_var.get(),
    )
    return ScoreResponse(task=task, predictions=predictions)


@router.post("/sentiment", operation_id="scoring-sentiment")
async def score_sentiment(
    body: ScoreRequest, principal: CurrentPrincipal, scoring: ScoringDep
) -> ScoreResponse:
    """Sentiment (negative/positive) of one text or a batch."""
    permissions.can_score(principal)
    return await _score(scoring, principal, "sentiment", body, "/api/v1/sentiment")


@router.post("/sarcasm", operation_id="scoring-sarcasm")
async def score_sarcasm(
    body: ScoreRequest, principal: CurrentPrincipal, scoring: ScoringDep
) -> ScoreResponse:
    """Sarcasm (not_sarcastic/sarcastic) of one text or a batch."""
    permissions.can_score(principal)
    return await _score(scoring, principal, "sarcasm", body, "/api/v1/sarcasm")


@router.post("/analyze", operation_id="scoring-analyze")
async def analyze(
    body: ScoreRequest, principal: CurrentPrincipal, scoring: ScoringDep
) -> AnalyzeResponse:
    """Sentiment and sarcasm together."""
    permissions.can_score(principal)
    sentiment, sarcasm = await asyncio.gather(
        _score(scoring, principal, "sentiment", body, "/api/v1/analyze"),
        _score(scoring, principal, "sarcasm", body, "/api/v1/analyze"),
    )
    return AnalyzeResponse(
        predictions=[
            Analysis(sentiment=s, sarcasm=c)
            for s, c in zip(sentiment.predictions, sarcasm.predictions, strict=True)
        ]
    )


class ServingModels(BaseModel):
    models: list[ModelRef]
    canary_shares: dict[Task, float] = Field(
        description="Per task, the share of this tenant's requests that the `staging` version "
        "answers (set per task by the lifecycle's set_canary step)."
    )
    canary_share: float = Field(
        deprecated=True,
        description="The largest of `canary_shares`, for clients written before shares were "
        "reported per task: non-zero while any task is in canary. Read `canary_shares`.",
    )


@router.get("/models", operation_id="scoring-models")
def serving_models(principal: CurrentPrincipal, scoring: ScoringDep) -> ServingModels:
    """The model versions serving each task now, and this tenant's canary share per task."""
    permissions.can_score(principal)
    models = [
        ModelRef(name=m.name, version=m.version, alias=m.alias)
        for task in TASKS
        for alias in ("production", "staging")
        if (m := scoring.slots.get(task, alias)) is not None
    ]
    shares = scoring.slots.canary_shares(principal.tenant_id, TASKS)
    return ServingModels(
        models=models, canary_shares=shares, canary_share=max(shares.values(), default=0.0)
    )


@router.get(
    "/metrics",
    operation_id="scoring-metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(principal: CurrentPrincipal, scoring: ScoringDep) -> Response:
    """Prometheus metrics (latency per route, tenant and model version; batches; errors)."""
    permissions.can_read_metrics(principal)
    return Response(generate_latest(scoring.metrics.registry), media_type=CONTENT_TYPE_LATEST)


# --- WebSocket stream ---------------------------------------------------------------------------

SUBPROTOCOL = "sentimentops.v1"
_BEARER_PREFIX = "bearer."


def _handshake_credential(websocket: WebSocket) -> str:
    """Header credentials for programs; for browsers, the subprotocol list
    `["sentimentops.v1", "bearer.<token>"]` (never the URL, which ends up in logs)."""
    header = websocket.headers.get("authorization")
    api_key = websocket.headers.get("x-api-key")
    if header or api_key:
        return authn.credential_from_headers(header, api_key)
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    tokens = [p[len(_BEARER_PREFIX) :] for p in offered if p.startswith(_BEARER_PREFIX)]
    if len(tokens) != 1:
        raise Unauthorized("authentication required")
    return authn.credential_from_headers(f"Bearer {tokens[0]}", None)


def _origin_allowed(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: cross-site WebSocket hijacking needs one
    settings = websocket.app.state.settings
    return origin in settings.ws_allowed_origins or origin == settings.api_url


# Close codes when the server cannot answer the handshake with an HTTP status: 4000 + the status
# a REST call would get (the range RFC 6455 leaves to applications).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


async def _refuse(websocket: WebSocket, exc: DomainError) -> None:
    """Refuse the handshake as REST refuses a request: 401 with `WWW-Authenticate` for missing
    or bad credentials, 403 for a refused permission or origin, with the same error envelope.
    Servers without the ASGI WebSocket denial-response extension (uvicorn's wsproto backend)
    cannot send a status: the connection is accepted and closed at once with 4401 "unauthorized"
    or 4403 "forbidden" instead; a bare close before accepting would reach the client as 403."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(domain_error_response(exc))
        return
    unauthorized = isinstance(exc, Unauthorized)
    await websocket.accept()
    await websocket.close(
        code=CLOSE_UNAUTHORIZED if unauthorized else CLOSE_FORBIDDEN,
        reason="unauthorized" if unauthorized else "forbidden",
    )


@stream_router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Send `{"id", "task", "text"}` messages, receive `{"id", "task", "prediction"}` as each is
    scored. At most `ws_max_in_flight` unanswered messages per connection: beyond that the server
    stops reading, which pushes back on the client through TCP."""
    app = websocket.app
    settings = app.state.settings
    if not _origin_allowed(websocket):
        await _refuse(websocket, Forbidden("origin not allowed"))
        return
    try:
        credential = _handshake_credential(websocket)
        who = await authenticate_connection(websocket, credential)
        principal, tenant = who.principal, who.tenant
        permissions.can_score(principal)
    except DomainError as exc:
        await _refuse(websocket, exc)
        return
    offered = websocket.headers.get("sec-websocket-protocol", "")
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    scoring: Scoring = app.state.scoring
    slots = asyncio.Semaphore(settings.ws_max_in_flight)
    send_lock = asyncio.Lock()
    pending: set[asyncio.Task[None]] = set()

    rate = tenant.rate_limit_per_second or settings.rate_limit_per_second
    burst = tenant.rate_limit_burst or settings.rate_limit_burst

    async def answer(raw: str) -> None:
        try:
            decision = app.state.rate_limiter.acquire(f"tenant:{tenant.id}", rate=rate, burst=burst)
            if decision.allowed:
                result = await _score_stream_message(scoring, principal, raw)
            else:
                scoring.metrics.quota_rejections.labels(principal.tenant).inc()
                result = StreamResult(
                    id=_message_id(raw),
                    task="sentiment",
                    error=f"rate limited: retry after {retry_after_header(decision)}s",
                )
            async with send_lock:
                await websocket.send_text(result.model_dump_json(exclude_none=True))
        finally:
            slots.release()

    try:
        for _ in range(settings.ws_max_messages):
            await slots.acquire()
            raw = await websocket.receive_text()
            if len(raw) > settings.ws_max_message_bytes:
                await websocket.close(code=1009, reason="message too big")
                return
            task = asyncio.create_task(answer(raw))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        await websocket.close(code=1000, reason="message limit reached; reconnect")
    except WebSocketDisconnect:
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)


def _message_id(raw: str) -> str:
    """The client's id of a message we could not parse, so it can match the error."""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return ""
    return str(parsed.get("id", ""))[:128] if isinstance(parsed, dict) else ""


async def _score_stream_message(scoring: Scoring, principal: Principal, raw: str) -> StreamResult:
    try:
        message = StreamRequest.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        # json's reason and position ("Expecting value: line 1 column 2"), never the text.
        return StreamResult(id=_message_id(raw), task="sentiment", error=f"invalid message: {exc}")
    except ValidationError as exc:
        # Without the input: str(exc) would echo it (`input_value='bogus'`).
        error = f"invalid message: {describe_errors(exc.errors(include_input=False))}"
        return StreamResult(id=_message_id(raw), task="sentiment", error=error)
    try:
        service.check_limits(
            scoring.limits, [message.text], explain=False, contexts=message.context or ()
        )
        [prediction] = await service.score(
            scoring,
            task=message.task,
            texts=[message.text],
            contexts=[message.context[-1] if message.context else None],
            tenant_id=principal.tenant_id,
            tenant_label=principal.tenant,
            route="/api/v1/stream",
        )
    except DomainError as exc:
        return StreamResult(id=message.id, task=message.task, error=str(exc))
    return StreamResult(id=message.id, task=message.task, prediction=prediction)
