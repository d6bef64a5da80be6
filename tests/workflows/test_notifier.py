"""The webhook notifier: delivers to an allow-listed local receiver, refuses internal targets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentimentops.approvals.errors import UnsafeWebhookTarget
from sentimentops.approvals.notifier import ApprovalNotice, WebhookNotifier

NOTICE = ApprovalNotice(
    approval_id="a1", tenant="acme", workflow_id="plan-1", plan_hash="0" * 64, step_index=2,
    tool="promote_model", params={"target": "production"}, requester="alice",
    rationale="ship it", reasons=["promotion to production needs a human approval"],
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)  # fmt: skip


async def test_allow_listed_receiver_gets_the_notice(
    receiver: tuple[str, list[dict[str, object]]],
) -> None:
    url, received = receiver
    await WebhookNotifier(url, allowed_hosts=["127.0.0.1"]).notify(NOTICE)
    assert [r["approval_id"] for r in received] == ["a1"]
    assert received[0]["plan_hash"] == "0" * 64


async def test_loopback_without_allow_list_is_refused(
    receiver: tuple[str, list[dict[str, object]]],
) -> None:
    url, received = receiver
    with pytest.raises(UnsafeWebhookTarget, match=r"internal address 127\.0\.0\.1"):
        await WebhookNotifier(url).notify(NOTICE)
    assert received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",  # private
        "http://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "http://[::1]:8000/hook",  # IPv6 loopback
        "http://[::ffff:192.168.0.1]/hook",  # IPv4-mapped private
        "http://localhost:8000/hook",  # a name that resolves to loopback
    ],
)
async def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookTarget):
        await WebhookNotifier(url, allowed_hosts=["192.0.2.0/24"]).check_target()


def test_only_http_urls_without_credentials() -> None:
    with pytest.raises(UnsafeWebhookTarget):
        WebhookNotifier("file:///etc/passwd")
    with pytest.raises(UnsafeWebhookTarget):
        WebhookNotifier("https://user:pw@example.com/hook")
