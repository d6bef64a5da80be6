"""What the Slack app shows: text from outside is inert and cut to Slack's limits, the status
line of a tracked message follows the approval and the plan, and the manifest asks for the
scopes docs/slack.md justifies and the events the app listens to."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; only safe_load is used

from sentimentops.approvals.slack import blocks
from sentimentops.approvals.slack.ports import DraftView, PlanState, StepView
from sentimentops.approvals.slack.updater import ApprovalState, status_of
from tests.approvals.slack.stand_in import block_errors

REPO = Path(__file__).resolve().parents[3]


def test_outside_text_is_inert_and_bounded() -> None:
    assert blocks.esc("<!channel> & <@U1> <http://x|y>") == (
        "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;http://x|y&gt;"
    )
    assert blocks.esc("a\u202eb\u0000c\nd") == "abc\nd"  # bidi and NUL dropped, newline kept
    assert blocks.esc("x" * 50, 10) == "x" * 9 + "…"
    assert len(blocks.plain("y" * 500, 150)) == 150


def test_a_huge_draft_and_request_stay_within_slacks_limits() -> None:
    huge = "<!here> " * 2000
    view = DraftView(
        thread_id="t" * 32,
        revision=7,
        plan_hash="d" * 64,
        rationale=huge,
        expected_effect=huge,
        steps=[StepView("promote_model", {"note": huge}, fallback=i % 2 == 1) for i in range(60)],
        diff=[huge] * 60,
        evidence=[huge] * 60,
    )
    _text, message = blocks.draft(view, blocks.Links("http://t", "http://w"))
    assert block_errors(message) is None
    assert "<!here>" not in json.dumps(message)
    request = blocks.ApprovalView(
        approval_id="a" * 32,
        workflow_id="plan-" + "p" * 200,
        plan_hash="d" * 64,
        step_index=0,
        tool="promote_model",
        params={"note": huge},
        requester=huge,
        requested_by=huge,
        rationale=huge,
        reasons=[huge] * 40,
        expires_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    text, message = blocks.approval(request, blocks.Links())
    assert block_errors(message) is None
    assert len(text) <= 300
    [actions] = [b for b in message if b["type"] == "actions"]
    assert {json.loads(e["value"])["h"] for e in actions["elements"]} == {"d" * 64}


RUNNING = PlanState("running", final=False, current_step=1, steps=3, current_tool="promote_model")
DONE = PlanState("completed", final=True, steps=3)
ROLLED_BACK = PlanState("completed", final=True, steps=3, rolled_back=True)
FAILED = PlanState("failed", final=True, message="gate <!channel> failed")


@pytest.mark.parametrize(
    ("kind", "approval", "plan", "line", "buttons", "done"),
    [
        (
            "approval",
            ApprovalState("pending", None, None),
            None,
            "waiting for an approver",
            True,
            False,
        ),
        (
            "approval",
            ApprovalState("approved", "<@U0BOB0001>", None),
            RUNNING,
            "approved by <@U0BOB0001> · plan running step 2 of 3 (promote_model)",
            False,
            False,
        ),
        (
            "approval",
            ApprovalState("approved", "<@U0BOB0001>", None),
            DONE,
            "completed",
            False,
            True,
        ),
        (
            "approval",
            ApprovalState("approved", "bob", None),
            ROLLED_BACK,
            "rolled back",
            False,
            True,
        ),
        (
            "approval",
            ApprovalState("approved", "bob", None),
            FAILED,
            "failed: gate &lt;!channel&gt; failed",
            False,
            True,
        ),
        (
            "approval",
            ApprovalState("rejected", "bob", "no <!here>"),
            None,
            "rejected by bob: no &lt;!here&gt;",
            False,
            True,
        ),
        ("approval", ApprovalState("expired", None, None), None, "expired", False, True),
        (
            "approval",
            ApprovalState("superseded", None, None),
            RUNNING,
            "the plan changed",
            False,
            True,
        ),
        # The workflow ended (cancelled) before it closed the request: no button stays.
        (
            "approval",
            ApprovalState("pending", None, None),
            PlanState("cancelled", final=True),
            "cancelled",
            False,
            True,
        ),
        ("plan", None, None, "plan starting", False, False),
        (
            "plan",
            None,
            PlanState("waiting_approval", final=False),
            "waiting for approval",
            False,
            False,
        ),
        ("plan", None, DONE, "plan :white_check_mark: completed", False, True),
    ],
)
def test_status_lines_follow_the_approval_and_the_plan(
    kind: str,
    approval: ApprovalState | None,
    plan: PlanState | None,
    line: str,
    buttons: bool,
    done: bool,
) -> None:
    text, pressable, finished = status_of(kind, approval, plan)
    assert line in text
    assert (pressable, finished) == (buttons, done)


def test_the_status_line_replaces_the_buttons_once_decided() -> None:
    base = [blocks.section("x"), {"type": "actions", "elements": []}]
    assert blocks.with_status(base, "open", buttons=True)[1]["type"] == "actions"
    closed = blocks.with_status(base, "done", buttons=False)
    assert [b["type"] for b in closed] == ["section", "context"]


def test_the_manifest_asks_for_the_justified_scopes_only() -> None:
    manifest = yaml.safe_load((REPO / "approvals" / "slack" / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"app_mentions:read", "chat:write", "im:history"}
    # The events the app listens to (chat.py registers app_mention and direct messages).
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    guide = (REPO / "docs" / "slack.md").read_text()
    for scope in scopes:
        assert f"| `{scope}` |" in guide, scope
