"""Linking from Slack: an unlinked user asks (button, modal naming the account), the request is
posted in the tenant's channel, and only a linked tenant admin's Confirm links them (the
requester, strangers and non-admins are refused); Decline links nobody; every step audited."""

from __future__ import annotations

import json

from sentimentops.approvals.slack import links
from sentimentops.core.vocabulary import Role
from tests.approvals.slack.conftest import CHANNEL, TEAM, Harness
from tests.approvals.slack.stand_in import Message, mention, press, submit_view

ADA, VIC, BOB, EVE = "U0ADA0001", "U0VIC0001", "U0BOB0001", "U0EVE0001"
CHAT = "C0CHAT0001"


def _linked_as(harness: Harness, user: str) -> str | None:
    with harness.sessions() as session:
        try:
            return links.slack_principal(session, team_id=TEAM, slack_user_id=user).name
        except links.SlackRefused:
            return None


async def _ask(harness: Harness, user: str, account: str, ts: str) -> Message:
    """`user` writes to the app, presses "Ask to be linked", names `account`: the request
    posted in the tenant's channel."""
    stand_in = harness.stand_in
    await harness.send(mention(TEAM, user, CHAT, "roll sarcasm back", ts))
    [offer] = [c for c in stand_in.of("chat.postEphemeral") if c.args["user"] == user][-1:]
    assert "not linked" in offer.args["text"]
    shown = Message(CHAT, ts, offer.args["text"], offer.args["blocks"], thread_ts=ts)
    await harness.send(press(TEAM, user, shown, "link_ask"), form=True)
    view = stand_in.of("views.open")[-1].args["view"]
    assert json.loads(view["private_metadata"]) == {"c": CHAT}
    before = len(stand_in.in_channel(CHANNEL))
    await harness.send(
        submit_view(TEAM, user, view, account, block=("account", "account_input")), form=True
    )
    requests = sorted(stand_in.in_channel(CHANNEL), key=lambda m: m.ts)
    assert len(requests) == before + 1
    return requests[-1]


async def test_a_tenant_admin_confirms_a_link_asked_for_in_slack(harness: Harness) -> None:
    harness.link(
        "acme", TEAM, CHANNEL, (ADA, "ada", {Role.TENANT_ADMIN}), (VIC, "vic", {Role.VIEWER})
    )
    harness.factory.account("acme", "bob", {Role.APPROVER})
    stand_in = harness.stand_in

    request = await _ask(harness, BOB, "bob", "1765000000.000001")
    shown = json.dumps(request.blocks)
    assert f"<@{BOB}> asks to act as the SentimentOps account `bob`" in shown
    assert "Asked" in stand_in.ephemerals(BOB)[-1]
    assert _linked_as(harness, BOB) is None  # asking grants nothing

    # The requester, a stranger and a linked non-admin cannot confirm it.
    for user, expected in [
        (BOB, "not linked"),
        (EVE, "not linked"),
        (VIC, "requires one of the roles: tenant_admin"),
    ]:
        await harness.send(press(TEAM, user, request, "link_confirm"), form=True)
        assert expected in stand_in.ephemerals(user)[-1], user
        assert _linked_as(harness, BOB) is None

    await harness.send(press(TEAM, ADA, request, "link_confirm"), form=True)
    assert _linked_as(harness, BOB) == "bob"
    done = json.dumps(stand_in.message(CHANNEL, request.ts).blocks)
    assert f"linked as `bob` by <@{ADA}>" in done
    assert "link_confirm" not in done

    # Someone else asks to be bob: declined, linked to nothing. A linked user cannot ask again.
    impostor = await _ask(harness, EVE, "bob", "1765000000.000002")
    await harness.send(press(TEAM, ADA, impostor, "link_decline"), form=True)
    assert f"declined by <@{ADA}>" in json.dumps(stand_in.message(CHANNEL, impostor.ts).blocks)
    assert _linked_as(harness, EVE) is None

    outcomes = [
        (e.action, e.details["slack_user"], e.outcome)
        for e in harness.audit("slack.link.request")
        + harness.audit("slack.link.confirm")
        + harness.audit("slack.link.decline")
    ]
    assert outcomes == [
        ("slack.link.request", BOB, "requested"),
        ("slack.link.request", EVE, "requested"),
        ("slack.link.confirm", BOB, "refused"),
        ("slack.link.confirm", EVE, "refused"),
        ("slack.link.confirm", VIC, "refused"),
        ("slack.link.confirm", ADA, "succeeded"),
        ("slack.link.decline", ADA, "succeeded"),
    ]
    [linked] = harness.audit("slack.user.link")[-1:]
    assert linked.details["account"] == "bob"
    assert linked.actor.startswith("service:")  # Ada's account, not the requester
