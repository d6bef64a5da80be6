"""HTTP events at /slack/events: Bolt verifies Slack's signature and its five-minute timestamp
window, answers Slack's URL check, and the route exists only when the Slack settings are set
(without them approvals keep working through the API)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from sentimentops.app import schema
from sentimentops.app.api import create_app
from sentimentops.core.http.deps import public_route
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from tests.approvals.slack.conftest import CHANNEL, TEAM, Harness, slack_settings
from tests.approvals.slack.stand_in import SlackStandIn, mention, signed
from tests.identity.conftest import Factory
from tests.test_api import api_routes

CHALLENGE = json.dumps(
    {
        "token": "legacy",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
).encode()


async def test_signed_requests_only_within_five_minutes(harness: Harness) -> None:
    harness.link("acme", TEAM, CHANNEL, ("U0ALICE01", "alice", {Role.ML_ENGINEER}))
    ok = await harness.send(CHALLENGE)
    assert ok.status_code == 200, ok.text
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in ok.text

    body = mention(TEAM, "U0ALICE01", "C0CHAT0001", "roll sarcasm back", "1700000000.000100")
    now = int(time.time())
    refused = {
        "wrong secret": signed(body, secret="not-the-signing-secret-at-all-00"),
        "replayed (6 minutes old)": signed(body, at=now - 360),
        "from the future": signed(body, at=now + 360),
        "unsigned": {},
        "body changed after signing": signed(body.replace(b"sarcasm", b"sentiment")),
    }
    for case, headers in refused.items():
        response = await harness.send(body, headers=headers)
        assert response.status_code == 401, (case, response.text)
    # Nothing reached the app: no message, no thread, no audit of a chat.
    assert harness.stand_in.of("chat.postMessage") == []
    assert harness.stand_in.of("chat.postEphemeral") == []
    assert harness.audit("slack.chat") == []


def test_no_slack_settings_no_route_and_approvals_still_served(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, serving_tasks=[], _env_file=None)
    schema.upgrade(settings.resolved_database_url)
    app = create_app(settings)
    assert app.state.slack is None
    assert "/slack/events" not in {path for path, _m, _c in api_routes(app)}
    with TestClient(app) as http:
        assert http.post("/slack/events", content=CHALLENGE).status_code == 404
        factory = Factory(app.state.sessions, http)
        approver = factory.headers(factory.account("acme", "ops", {Role.APPROVER}))
        listed = http.get("/api/v1/approvals", headers=approver)
        assert listed.status_code == 200, listed.text
        assert listed.json() == []


def test_the_events_route_is_authenticated_by_the_signature(
    tmp_path: Path, stand_in: SlackStandIn
) -> None:
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", stand_in)
    app = create_app(settings)
    [(methods, calls)] = [(m, c) for path, m, c in api_routes(app) if path == "/slack/events"]
    assert methods == {"POST"}
    # The route-coverage test's PUBLIC marker: no platform credential; Bolt checks Slack's.
    assert public_route in calls
    [operation] = [
        c.operation_id for c in iter_route_contexts(app.routes) if c.path == "/slack/events"
    ]
    assert operation == "slack-events"
