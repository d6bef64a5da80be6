"""A local HTTP server standing in for Slack's Web API, and requests signed as Slack signs them.

The server speaks the Web API's wire protocol (POST /api/<method>, a Bearer token, JSON or
form bodies, `{"ok": …}` answers), checks what the app sends against Slack's rules (the token,
required arguments, Block Kit limits, that an updated message exists) and records every call."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"  # Socket Mode's app-level token (apps.connections.open only)
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER = "UBOT0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    updates: int = 0


@dataclass
class SlackStandIn:
    url: str = ""
    # What apps.connections.open answers: the WebSocket a Socket Mode test serves.
    socket_url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: int = 0

    def next_ts(self) -> str:
        with self.lock:
            self._clock += 1
            return f"{int(time.time())}.{self._clock:06d}"

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def message(self, channel: str, ts: str) -> Message:
        with self.lock:
            return self.messages[(channel, ts)]

    def in_channel(self, channel: str) -> list[Message]:
        with self.lock:
            return [m for (c, _), m in self.messages.items() if c == channel]

    def ephemerals(self, user: str) -> list[str]:
        return [
            str(c.args.get("text", ""))
            for c in self.of("chat.postEphemeral")
            if c.args.get("user") == user
        ]


def block_errors(blocks: Any) -> str | None:
    """Slack's `invalid_blocks` rules the app could break: at most 50 blocks, section texts of
    at most 3000 characters, headers of 150, button values of 2000."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        text = block.get("text", {}).get("text", "")
        if kind == "section" and not 0 < len(text) <= 3000:
            return "invalid_blocks"
        if kind == "header" and not 0 < len(text) <= 150:
            return "invalid_blocks"
        if kind == "actions":
            for element in block.get("elements", []):
                if len(element.get("value", "")) > 2000 or not element.get("action_id"):
                    return "invalid_blocks"
    return None


def _answer(stand_in: SlackStandIn, method: str, args: dict[str, Any]) -> dict[str, Any]:
    if method == "auth.test":
        return {
            "ok": True,
            "url": "https://sentimentops-test.slack.com/",
            "team": "Test",
            "user": "sentimentops",
            "team_id": "T0TEAM001",
            "user_id": BOT_USER,
            "bot_id": "B0BOT0001",
            "is_enterprise_install": False,
        }
    if method in ("chat.postMessage", "chat.update"):
        channel = str(args.get("channel", ""))
        if not channel or not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text" if channel else "channel_not_found"}
        blocks = args.get("blocks", [])
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if (error := block_errors(blocks)) is not None:
            return {"ok": False, "error": error}
        with stand_in.lock:
            if method == "chat.update":
                key = (channel, str(args.get("ts", "")))
                if key not in stand_in.messages:
                    return {"ok": False, "error": "message_not_found"}
                found = stand_in.messages[key]
                found.text, found.blocks = str(args.get("text", "")), blocks
                found.updates += 1
                return {"ok": True, "channel": channel, "ts": key[1], "text": found.text}
        ts = stand_in.next_ts()
        with stand_in.lock:
            stand_in.messages[(channel, ts)] = Message(
                channel, ts, str(args.get("text", "")), blocks, args.get("thread_ts")
            )
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text")}}
    if method == "apps.connections.open":
        return {"ok": True, "url": stand_in.socket_url}
    if method == "chat.postEphemeral":
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": stand_in.next_ts()}
    if method == "views.open":
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("trigger_id") or not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if (error := block_errors(view.get("blocks", []))) is not None:
            return {"ok": False, "error": error}
        return {"ok": True, "view": {"id": "V0VIEW001", **view}}
    return {"ok": False, "error": "unknown_method"}


@contextmanager
def slack_stand_in() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                args: dict[str, Any] = json.loads(body) if body else {}
            else:
                args = dict(parse_qsl(body))
            # Arguments may come in the query string too (Bolt's auth.test sends team_id so).
            path, _, query = self.path.partition("?")
            args = {**dict(parse_qsl(query)), **args}
            method = path.removeprefix("/api/")
            token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
            if self.headers.get("Authorization") != f"Bearer {token}":
                answer: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
            else:
                with stand_in.lock:
                    stand_in.calls.append(Call(method, args))
                answer = _answer(stand_in, method, args)
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_port}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


# --- Requests from Slack --------------------------------------------------------------------


def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """Slack's signature headers: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    timestamp = str(int(time.time()) if at is None else at)
    base = b"v0:" + timestamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def event_body(team: str, event: dict[str, Any]) -> bytes:
    """An Events API callback as Slack POSTs it (JSON)."""
    envelope = {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
    }
    return json.dumps(envelope).encode()


def mention(
    team: str, user: str, channel: str, text: str, ts: str, thread_ts: str | None = None
) -> bytes:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_body(team, event)


def interaction(payload: dict[str, Any]) -> bytes:
    """An interaction as Slack POSTs it: form-encoded, the JSON in one `payload` field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def press(
    team: str, user: str, message: Message, action_id: str, value: str | None = None
) -> bytes:
    """A block_actions payload: `user` pressed the button `action_id` of `message` (its value
    as the message carries it, unless `value` forges another)."""
    button = next(
        e
        for b in message.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    echoed: dict[str, Any] = {"ts": message.ts, "text": message.text, "blocks": message.blocks}
    if message.thread_ts is not None:
        echoed["thread_ts"] = message.thread_ts
    return interaction(
        {
            "type": "block_actions",
            "team": {"id": team, "domain": "test"},
            "user": {"id": user, "team_id": team},
            "api_app_id": "A0APP0001",
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "channel": {"id": message.channel},
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
            },
            "message": echoed,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "actions",
                    "value": button["value"] if value is None else value,
                    "action_ts": str(time.time()),
                }
            ],
        }
    )


def submit_view(
    team: str,
    user: str,
    view: dict[str, Any],
    value: str,
    *,
    block: tuple[str, str] = ("reason", "reason_input"),
) -> bytes:
    """A view_submission payload: `user` submitted the modal `view` (as views.open got it),
    having typed `value` into its input (`block`: the input's block id and action id)."""
    block_id, action_id = block
    return interaction(
        {
            "type": "view_submission",
            "team": {"id": team, "domain": "test"},
            "user": {"id": user, "team_id": team},
            "api_app_id": "A0APP0001",
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "view": {
                **view,
                "id": "V0VIEW001",
                "state": {
                    "values": {block_id: {action_id: {"type": "plain_text_input", "value": value}}}
                },
            },
        }
    )
