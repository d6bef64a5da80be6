"""A local OpenAI-compatible chat server for tests: the stand-in at a true external boundary.

It speaks the real wire protocol (POST /v1/chat/completions as a `chat.completion` JSON body or
as server-sent `chat.completion.chunk` events ending in `data: [DONE]`; GET /v1/models), so the
code under test is the production `openai` client code. Each request takes the next response of
the test's script and is recorded, so a test can assert on what the client sent.

    with scripted_openai_server() as server:
        server.script([tool_call("get_service_metrics", {"task": "sarcasm"}), text("All fine.")])
        backend = OpenAICompatibleBackend(base_url=server.base_url, ...)
        ...
        assert server.requests[0].body["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "scripted-model"
# Streamed text and tool arguments are cut into pieces of this many characters, so the client
# has to join deltas the way it must with a real server.
CHUNK_CHARS = 7


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 50
    completion_tokens: int = 10

    def wire(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes; `arguments` is the raw JSON text it sends."""

    name: str
    arguments: str
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


@dataclass(frozen=True)
class Scripted:
    """One scripted reply: assistant content and/or tool calls, or an HTTP error."""

    content: str | None = None
    calls: tuple[Call, ...] = ()
    # None: no usage on the wire (some servers ignore stream_options).
    usage: Usage | None = field(default_factory=Usage)
    status: int = 200
    error: str = ""
    # Seconds before the server answers (a slow or hanging endpoint).
    delay_seconds: float = 0.0


def text(content: str, *, usage: Usage | None = Usage()) -> Scripted:
    """The model answers in words."""
    return Scripted(content=content, usage=usage)


def tool_call(name: str, args: dict[str, Any] | str, *, usage: Usage | None = Usage()) -> Scripted:
    """The model calls one tool; a str `args` is sent as is (e.g. malformed JSON)."""
    return tool_calls((name, args), usage=usage)


def tool_calls(*calls: tuple[str, dict[str, Any] | str], usage: Usage | None = Usage()) -> Scripted:
    """The model calls several tools in one reply (parallel tool calls)."""
    return Scripted(
        calls=tuple(
            Call(name=name, arguments=args if isinstance(args, str) else json.dumps(args))
            for name, args in calls
        ),
        usage=usage,
    )


def failure(status: int, error: str = "scripted failure") -> Scripted:
    """The endpoint answers with an HTTP error in OpenAI's error envelope."""
    return Scripted(status=status, error=error)


def slow(reply: Scripted, seconds: float) -> Scripted:
    """`reply`, answered after `seconds`."""
    return replace(reply, delay_seconds=seconds)


@dataclass(frozen=True)
class Received:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


# A reply the scripted model writes from the request it answers (the conversation and the tool
# results fed back so far), as a model does. It runs in a worker thread, off the server's loop.
Respond = Callable[[Received], Scripted]


class ScriptedOpenAIServer:
    """The server's state: the script left to answer and every request received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Scripted | Respond] = []
        self._requests: list[Received] = []
        self.base_url = ""  # http://127.0.0.1:PORT/v1 once started

    def script(self, replies: Sequence[Scripted | Respond]) -> None:
        """Replace the script: the next requests get these replies, in order."""
        with self._lock:
            self._script = list(replies)
            self._requests = []

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def remaining(self) -> int:
        """Scripted replies not yet asked for."""
        with self._lock:
            return len(self._script)

    def _next(self, received: Received) -> Scripted | Respond | None:
        with self._lock:
            self._requests.append(received)
            return self._script.pop(0) if self._script else None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}],
            }
        )

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        received = Received(request.url.path, dict(request.headers), body)
        reply = self._next(received)
        if reply is None:
            return _error(500, "the test's script has no reply left for this request")
        if not isinstance(reply, Scripted):
            reply = await asyncio.to_thread(reply, received)
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        if reply.status != 200:
            return _error(reply.status, reply.error)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model = str(body.get("model") or MODEL)
        if not body.get("stream"):
            return JSONResponse(_completion(reply, completion_id, model))
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        return StreamingResponse(
            _events(reply, completion_id, model, include_usage=include_usage),
            media_type="text/event-stream",
        )


def _error(status: int, message: str) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": "server_error", "param": None, "code": None}},
        status_code=status,
    )


def _finish_reason(reply: Scripted) -> str:
    return "tool_calls" if reply.calls else "stop"


def _completion(reply: Scripted, completion_id: str, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.calls
        ]
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
        ],
    }
    if reply.usage is not None:
        body["usage"] = reply.usage.wire()
    return body


def _pieces(value: str) -> list[str]:
    return [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)] or [""]


async def _events(
    reply: Scripted, completion_id: str, model: str, *, include_usage: bool
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if include_usage:
            # With include_usage every chunk carries "usage": null but the last one.
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n"

    def delta(value: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish_reason}]

    yield chunk(delta({"role": "assistant", "content": "", "refusal": None}))
    if reply.content:
        for piece in _pieces(reply.content):
            yield chunk(delta({"content": piece}))
    for index, call in enumerate(reply.calls):
        # The first delta of a call names it; its arguments follow in pieces, by index only.
        yield chunk(
            delta(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _pieces(call.arguments):
            yield chunk(delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    yield chunk(delta({}, _finish_reason(reply)))
    if include_usage and reply.usage is not None:
        yield chunk([], reply.usage.wire())
    yield "data: [DONE]\n\n"


@contextmanager
def scripted_openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A ScriptedOpenAIServer listening on 127.0.0.1 (a free port) in a thread."""
    state = ScriptedOpenAIServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        state.app(),
        log_level="warning",
        lifespan="off",
        ws="none",
        access_log=False,
        # A request the test stopped waiting for (a slow reply) must not hold up the stop.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the scripted OpenAI server did not start")
        time.sleep(0.01)
    state.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
