"""ASGI middleware: request/trace ids bound to every log line, the 500 answer to a crash, and a
hard cap on body size."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentimentops.core.http.errors import error_body, internal_error_body
from sentimentops.core.logging import get_logger, request_id_var, trace_id_var

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = get_logger("sentimentops.http")


class RequestContextMiddleware:
    """Takes X-Request-ID (when well formed) and the W3C traceparent trace id, or makes new ones;
    echoes X-Request-ID and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        match = _TRACEPARENT.match(headers.get("traceparent", ""))
        trace_id = match.group(1) if match else uuid.uuid4().hex
        request_token = request_id_var.set(request_id)
        trace_token = trace_id_var.set(trace_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "websocket.accept":
                status = 101
            elif message["type"] in ("http.response.start", "websocket.http.response.start"):
                # The second is a refused WebSocket handshake answered with an HTTP status.
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here, where the request id is still bound (Starlette's error handler runs
            # outside this middleware); re-raised so that the server logs the traceback.
            if scope["type"] == "http" and not response_started:
                await send_json(send_with_id, 500, internal_error_body())
            raise
        finally:
            log.info(
                "http.request",
                method=scope.get("method", "WS"),
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            request_id_var.reset(request_token)
            trace_id_var.reset(trace_token)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, whether or not Content-Length is declared.
    `upload_limits` raises the limit for POSTs to exact paths that take file uploads."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_limits = dict(upload_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        if scope.get("method") == "POST":
            max_bytes = self.upload_limits.get(scope["path"], max_bytes)
        for key, value in scope["headers"]:
            if key == b"content-length" and (not value.isdigit() or int(value) > max_bytes):
                await _reject_too_large(send, max_bytes)
                return
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                # The app's own answer to the exception it got while reading (FastAPI turns
                # any read error into 400 "There was an error parsing the body"): 413 instead.
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await _reject_too_large(send, max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _reject_too_large(send: Send, max_bytes: int) -> None:
    detail = f"request body exceeds {max_bytes} bytes"
    await send_json(send, 413, error_body("PayloadTooLarge", detail))


async def send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    """A complete JSON response at the ASGI level, for answers given outside the app."""
    body = json.dumps(content, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
