"""ASGI middleware: request/trace ids bound to every log line, and a hard cap on body size."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _reject_too_large(send, max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _reject_too_large(send: Send, max_bytes: int) -> None:
    body = (
        b'{"error":"PayloadTooLarge","detail":"request body exceeds '
        + str(max_bytes).encode()
        + b' bytes"}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
