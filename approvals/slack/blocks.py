"""Block Kit: what the Slack app shows. Every string that came from a person, an agent, a model
or telemetry goes through `esc`, so that none of it can become a mention (`<!channel>`), a link
that hides its target, or formatting that fakes the app's own lines; and everything is cut to
Slack's limits, so an oversized text shortens instead of failing the call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentimentops.approvals.slack.ports import Answer, DraftView, PlanState
from sentimentops.core.settings import Settings
from sentimentops.core.temporal import workflow_ui_url

Block = dict[str, Any]

# Slack's limits: a section's text 3000 characters, a header 150, a button value 2000, a
# message 50 blocks; fallback `text` is shown in notifications.
SECTION_CHARS = 2900
HEADER_CHARS = 150
MAX_LINES = 20

# action_id of each button; callback_id of the reject modal.
APPROVE = "approval_approve"
REJECT = "approval_reject"
SUBMIT = "draft_submit"
DROP = "draft_drop"
REJECT_MODAL = "approval_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MAX_REASON_CHARS = 2000


def esc(text: object, limit: int = SECTION_CHARS) -> str:
    """`text` as inert mrkdwn (Slack's escaping of &, < and >), cut to `limit` characters."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Control characters other than newlines and tabs are dropped: they only serve to hide text.
    value = "".join(c for c in value if c in "\n\t" or c.isprintable())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def plain(text: object, limit: int) -> str:
    """A plain_text field: no mrkdwn to escape, but cut and stripped of control characters."""
    value = "".join(c for c in str(text) if c.isprintable())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": plain(text, HEADER_CHARS)}}


def _bullets(lines: list[str], limit: int = MAX_LINES) -> str:
    shown = [f"• {esc(line, 400)}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"… and {len(lines) - limit} more")
    return "\n".join(shown)


def link(url: str | None, label: str) -> str | None:
    # The URLs come from settings and ids we made, never from chat: safe to put inside <…|…>.
    return f"<{url}|{label}>" if url else None


@dataclass(frozen=True)
class Links:
    """Where a person reads more: the Temporal web UI and the platform's web UI."""

    temporal: str | None = None
    web: str | None = None

    def line(self) -> str | None:
        parts = [p for p in (link(self.temporal, "Temporal"), link(self.web, "web UI")) if p]
        return " · ".join(parts) if parts else None


# --- Chat -----------------------------------------------------------------------------------


def progress(lines: list[str]) -> tuple[str, list[Block]]:
    """The turn's one message while the agent works: its latest steps, the newest last."""
    body = _bullets(lines[-MAX_LINES:]) if lines else "_thinking_"
    return "Working on it…", [section(f":hourglass_flowing_sand: Working on it…\n{body}")]


def answer(reply: Answer, steps: list[str]) -> tuple[str, list[Block]]:
    blocks = [section(esc(reply.text))]
    if reply.evidence:
        blocks.append(context("Read: " + esc("; ".join(reply.evidence), 2000)))
    elif steps:
        blocks.append(context("Steps: " + esc("; ".join(steps), 2000)))
    return esc(reply.text, 300), blocks


def failure(message: str) -> tuple[str, list[Block]]:
    text = f":warning: {esc(message, 1000)}"
    return text, [section(text)]


def _params(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)


def draft(view: DraftView, links: Links, *, buttons: bool = True) -> tuple[str, list[Block]]:
    """A draft plan: steps, rationale, expected effect, the diff, its hash, links, and the
    Submit / Drop buttons (bound to the thread, the revision and the hash)."""
    steps = [
        f"{i + 1}. {'(if the gate fails) ' if s.fallback else ''}`{esc(s.tool, 60)}` "
        f"{esc(_params(s.params), 300)}"
        for i, s in enumerate(view.steps[:MAX_LINES])
    ]
    blocks: list[Block] = [
        header(f"Draft plan (revision {view.revision})"),
        section("*Steps*\n" + "\n".join(steps)),
        section("*Rationale*\n" + esc(view.rationale, 1500)),
        section("*Expected effect*\n" + esc(view.expected_effect, 1000)),
        section("*What changes*\n" + _bullets(view.diff)),
    ]
    if view.evidence:
        blocks.append(context("Read: " + esc("; ".join(view.evidence), 1500)))
    facts = f"Plan hash `{esc(view.plan_hash, 64)}`"
    if (where := links.line()) is not None:
        facts += f" · {where}"
    blocks.append(context(facts))
    if buttons:
        value = json.dumps({"t": view.thread_id, "r": view.revision, "h": view.plan_hash})
        blocks.append(
            {
                "type": "actions",
                "block_id": "draft_actions",
                "elements": [
                    _button("Submit", SUBMIT, value, style="primary"),
                    _button("Drop", DROP, value),
                ],
            }
        )
    return f"Draft plan (revision {view.revision}) waits for Submit", blocks


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


# --- Approval requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalView:
    approval_id: str
    workflow_id: str
    plan_hash: str
    step_index: int
    tool: str
    params: dict[str, Any]
    requester: str
    requested_by: str | None
    rationale: str
    reasons: list[str]
    expires_at: datetime


def approval(view: ApprovalView, links: Links) -> tuple[str, list[Block]]:
    """An approval request with Approve / Reject, each bound to the request id and plan hash."""
    asked = f" (asked by {esc(view.requested_by, 200)})" if view.requested_by else ""
    blocks: list[Block] = [
        header(f"Approval needed: {view.tool} (step {view.step_index + 1})"),
        section(
            f"*Plan* `{esc(view.workflow_id, 200)}`\n"
            f"*Proposed by* {esc(view.requester, 200)}{asked}\n"
            f"*Step* `{esc(view.tool, 60)}` {esc(_params(view.params), 800)}"
        ),
        section("*Rationale*\n" + esc(view.rationale, 1500)),
        section("*Why a human must approve*\n" + _bullets(view.reasons)),
    ]
    facts = (
        f"Plan hash `{esc(view.plan_hash, 64)}` · expires "
        f"<!date^{int(view.expires_at.timestamp())}^{{date_short_pretty}} {{time}}|"
        f"{view.expires_at.isoformat(timespec='minutes')}>"
    )
    if (where := links.line()) is not None:
        facts += f" · {where}"
    blocks.append(context(facts))
    value = json.dumps({"a": view.approval_id, "h": view.plan_hash})
    blocks.append(
        {
            "type": "actions",
            "block_id": "approval_actions",
            "elements": [
                _button("Approve", APPROVE, value, style="primary"),
                _button("Reject", REJECT, value, style="danger"),
            ],
        }
    )
    text = f"Approval needed: {view.tool} of plan {view.workflow_id}"
    return plain(text, 300), blocks


def reject_modal(approval_id: str, plan_hash: str, channel: str, ts: str) -> Block:
    """The modal that asks a rejecting approver why; its submission carries the request, hash
    and message back in private_metadata (Slack returns it as it was sent)."""
    metadata = json.dumps({"a": approval_id, "h": plan_hash, "c": channel, "ts": ts})
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Reject the step"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": MAX_REASON_CHARS,
                },
            }
        ],
    }


def finished(
    workflow_id: str, rationale: str, outcome: str, links: Links
) -> tuple[str, list[Block]]:
    """A plan that ended (one Slack did not follow through an approval or a draft)."""
    lines = f"*Plan* `{esc(workflow_id, 200)}` {outcome}\n{esc(rationale, 1500)}"
    message = [section(lines)]
    if (where := links.line()) is not None:
        message.append(context(where))
    return plain(f"Plan {workflow_id} ended", 300), message


# --- Linking a Slack user from Slack ---------------------------------------------------------

LINK_ASK = "link_ask"
LINK_MODAL = "link_account"
LINK_CONFIRM = "link_confirm"
LINK_DECLINE = "link_decline"
ACCOUNT_BLOCK = "account"
ACCOUNT_INPUT = "account_input"
MAX_ACCOUNT_CHARS = 128  # identity's service account names


def not_linked(message: str) -> tuple[str, list[Block]]:
    """The refusal of an unlinked user, with a button that asks the tenant admins for a link."""
    text = esc(message, 1000)
    ask = {
        "type": "actions",
        "block_id": "link_ask",
        "elements": [_button("Ask to be linked", LINK_ASK, "ask")],
    }
    return text, [section(text), ask]


def link_modal(channel: str) -> Block:
    """Which account the user says they are; the channel to answer in travels in metadata."""
    return {
        "type": "modal",
        "callback_id": LINK_MODAL,
        "private_metadata": json.dumps({"c": channel}),
        "title": {"type": "plain_text", "text": "Link your account"},
        "submit": {"type": "plain_text", "text": "Ask"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": ACCOUNT_BLOCK,
                "label": {"type": "plain_text", "text": "Your SentimentOps account's name"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ACCOUNT_INPUT,
                    "max_length": MAX_ACCOUNT_CHARS,
                },
            }
        ],
    }


def link_request(user: str, account: str) -> tuple[str, list[Block]]:
    """A link request in the tenant's channel: a tenant admin confirms or declines it."""
    value = json.dumps({"u": user, "a": account})
    lines = (
        f"<@{user}> asks to act as the SentimentOps account `{esc(account, MAX_ACCOUNT_CHARS)}`. "
        "A tenant admin who knows this is them confirms; until then they can do nothing here."
    )
    actions = {
        "type": "actions",
        "block_id": "link_actions",
        "elements": [
            _button("Confirm", LINK_CONFIRM, value, style="primary"),
            _button("Decline", LINK_DECLINE, value),
        ],
    }
    return plain(f"A link request for account {account}", 300), [section(lines), actions]


# --- Status of a tracked message --------------------------------------------------------------


def plan_line(plan: PlanState) -> str:
    """The plan's part of a status line: running step N, completed, failed, rolled back."""
    if plan.status == "waiting_approval":
        return "waiting for approval"
    if plan.status == "running":
        if plan.current_step is None:
            return "running"
        tool = f" ({esc(plan.current_tool, 60)})" if plan.current_tool else ""
        return f"running step {plan.current_step + 1} of {plan.steps}{tool}"
    if plan.status == "completed":
        return ":rewind: rolled back" if plan.rolled_back else ":white_check_mark: completed"
    message = f": {esc(plan.message, 300)}" if plan.message else ""
    return f":x: {esc(plan.status, 40)}{message}"


def approval_line(
    status: str, *, decided_by: str | None, comment: str | None, plan: PlanState | None
) -> str:
    """An approval request's status line (`decided_by` already a mention or an escaped name)."""
    if status == "pending":
        head = ":hourglass: waiting for an approver"
    elif status == "approved":
        head = f":white_check_mark: approved by {decided_by or 'an approver'}"
    elif status == "rejected":
        why = f": {esc(comment, 500)}" if comment else ""
        head = f":no_entry: rejected by {decided_by or 'an approver'}{why}"
    elif status == "superseded":
        head = ":twisted_rightwards_arrows: superseded: the plan changed"
    else:
        head = f":hourglass: {esc(status, 40)}"
    if plan is None or status in ("pending", "rejected", "superseded", "expired"):
        return head
    return f"{head} · plan {plan_line(plan)}"


def with_status(base: list[Block], status: str, *, buttons: bool) -> list[Block]:
    """`base` with its status line, and without its buttons once nothing is left to press."""
    kept = [b for b in base if buttons or b.get("type") != "actions"]
    return [*kept, context(status)]


def plan_links(settings: Settings, workflow_id: str | None) -> Links:
    """Links of a plan (of the Temporal namespace's workflows before the plan exists)."""
    if workflow_id is None:
        temporal = settings.temporal_ui_url
        if temporal is not None:
            temporal = f"{temporal}/namespaces/{settings.temporal_namespace}/workflows"
        web = settings.web_ui_url
    else:
        temporal = workflow_ui_url(settings, workflow_id)
        web = (
            f"{settings.web_ui_url.rstrip('/')}/plans/{workflow_id}"
            if settings.web_ui_url
            else None
        )
    return Links(temporal=temporal, web=web)
