"""`sentimentops slack` over Socket Mode: the app asks the Web API for a WebSocket URL with its
app-level token, receives Slack's envelopes over that socket (no request signature: the socket
is its own authentication), acknowledges each by its envelope id, and answers through the same
handlers as HTTP events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from temporalio.client import Client

from sentimentops.app.cli.slack import run_socket_mode
from sentimentops.app.schema import upgrade
from sentimentops.approvals.slack import links
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.identity import service as identity
from tests.approvals.slack.conftest import CHANNEL, TEAM, admin_of, slack_settings
from tests.approvals.slack.stand_in import APP_TOKEN, SlackStandIn, mention

STRANGER = "U0STRANGE"


async def test_socket_mode_receives_acknowledges_and_answers(
    fresh_db_url: str,
    tmp_path: Path,
    stand_in: SlackStandIn,
    opa_url: str,
    temporal_client: Client,
) -> None:
    upgrade(fresh_db_url)
    sessions = make_session_factory(make_engine(fresh_db_url))
    with transaction(sessions) as session:
        tenant = identity.create_tenant(session, actor="test", slug="acme")
        links.map_workspace(session, principal=admin_of(tenant), team_id=TEAM, channel_id=CHANNEL)
    acks: list[dict[str, Any]] = []
    envelope = {
        "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "payload": json.loads(
            mention(TEAM, STRANGER, "C0CHAT0001", "roll sarcasm back", "1765000000.000001")
        ),
    }

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        await ws.send_json(envelope)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                acks.append(json.loads(message.data))
        return ws

    server = web.Application()
    server.router.add_get("/link", socket)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    stand_in.socket_url = f"ws://127.0.0.1:{port}/link"
    settings = slack_settings(
        tmp_path,
        fresh_db_url,
        stand_in,
        slack_signing_secret=None,  # Socket Mode needs none
        slack_app_token=APP_TOKEN,
        opa_url=opa_url,
        temporal_address=temporal_client.service_client.config.target_host,
    )
    running = asyncio.create_task(run_socket_mode(settings, APP_TOKEN))
    try:
        for _ in range(200):
            if stand_in.ephemerals(STRANGER):
                break
            await asyncio.sleep(0.1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await runner.cleanup()
    assert [c.method for c in stand_in.calls][:1] == ["apps.connections.open"]
    assert {"envelope_id": envelope["envelope_id"]} in acks
    [said] = stand_in.ephemerals(STRANGER)
    assert "not linked" in said
