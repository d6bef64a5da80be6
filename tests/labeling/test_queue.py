"""The annotators' queue over a real app and database: locks, their expiry, overlap, skip, undo,
conflicts and their review, the active-learning orders, gold items, agreement and roles."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sentimentops.core.vocabulary import Role
from tests.identity.conftest import Factory
from tests.labeling.conftest import (
    LOCK_MINUTES,
    Member,
    ingest,
    log_prediction,
    member,
    project_body,
    store_texts,
)

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

BASE = "/api/v1/labeling/projects"
REVIEWS = [
    ("a warm and clever film", 1),
    ("two hours I will never get back", 0),
    ("the cast carries a thin plot", 1),
    ("loud, long and empty", 0),
]


def _create(client: TestClient, who: Member, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(BASE, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()["project"]
    return project


def _next(client: TestClient, who: Member, project: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"{BASE}/{project['id']}/next", headers=who.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _annotate(
    client: TestClient, who: Member, project: dict[str, Any], item_id: str, label: str
) -> Any:
    return client.post(
        f"{BASE}/{project['id']}/items/{item_id}/annotations",
        json={"label": label, "note": "clear case", "time_spent_ms": 1200},
        headers=who.headers,
    )


def test_locks_keep_single_overlap_items_apart_and_expire(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    bob = member(factory, "acme", "bob", Role.ANNOTATOR)
    dataset = ingest(client, curator, REVIEWS[:2])
    project = _create(
        client,
        curator,
        project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id, bob.id], order="source"),
    )
    assert project["item_count"] == 2
    assert project["labels"] == ["negative", "positive"]

    first = _next(client, ann, project)
    second = _next(client, bob, project)
    assert first["state"] == second["state"] == "served"
    assert first["item"]["id"] != second["item"]["id"]
    assert _next(client, ann, project)["item"]["id"] == first["item"]["id"]  # held: same item
    # Both items are locked: nothing for a third look until a lock ends.
    assert _annotate(client, ann, project, first["item"]["id"], "positive").status_code == 201
    assert _next(client, ann, project)["state"] == "wait"

    time.sleep(LOCK_MINUTES * 60 + 0.3)  # bob's lock expires
    taken_over = _next(client, ann, project)
    assert taken_over["item"]["id"] == second["item"]["id"]
    late = _annotate(client, bob, project, second["item"]["id"], "negative")
    assert late.status_code == 409
    assert "not locked to you" in late.json()["detail"]
    answered = _annotate(client, ann, project, second["item"]["id"], "negative")
    assert answered.status_code == 201
    assert answered.json()["item_status"] == "resolved"  # overlap 1: one answer settles it
    assert _next(client, bob, project)["state"] == "done"
    progress = client.get(f"{BASE}/{project['id']}", headers=bob.headers).json()["progress"]
    assert progress == {
        "open": 0,
        "conflict": 0,
        "resolved": 2,
        "annotations": 2,
        "skips": 0,
        "locked": 0,
    }

    # An expired lock of one's own is refused too, before anyone else takes it.
    again = _create(
        client,
        curator,
        project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id], order="source"),
    )
    mine = _next(client, ann, again)["item"]["id"]
    time.sleep(LOCK_MINUTES * 60 + 0.3)
    expired = _annotate(client, ann, again, mine, "positive")
    assert expired.status_code == 409
    assert "expired" in expired.json()["detail"]


def test_overlap_conflicts_review_skip_and_undo(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ANALYST)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    bob = member(factory, "acme", "bob", Role.ANNOTATOR, Role.APPROVER)
    cid = member(factory, "acme", "cid", Role.ANNOTATOR)
    reviewer = member(factory, "acme", "rev", Role.APPROVER)
    dataset = ingest(client, curator, REVIEWS[:1])
    body = project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id, bob.id, cid.id])
    project = _create(client, curator, {**body, "overlap": 2})
    item = _next(client, ann, project)["item"]["id"]
    assert _next(client, bob, project)["item"]["id"] == item  # overlap 2: a second annotator
    assert _next(client, cid, project)["state"] == "wait"  # but never a third
    assert _annotate(client, ann, project, item, "positive").json()["item_status"] == "open"
    # bob's lock is nothing to wait for once ann has answered that item; cid may still get it.
    assert _next(client, ann, project)["state"] == "done"
    assert _next(client, cid, project)["state"] == "wait"
    assert _annotate(client, bob, project, item, "negative").json()["item_status"] == "conflict"
    assert _next(client, cid, project)["state"] == "done"

    # Undo puts the item back in the caller's hands and takes the conflict away.
    undone = client.post(f"{BASE}/{project['id']}/undo", headers=bob.headers)
    assert undone.status_code == 200
    assert undone.json()["item"]["id"] == item
    assert _next(client, bob, project)["item"]["id"] == item
    items = client.get(f"{BASE}/{project['id']}/items", headers=reviewer.headers).json()
    assert items["items"][0]["status"] == "open"
    assert _annotate(client, bob, project, item, "negative").json()["item_status"] == "conflict"

    conflicts = client.get(
        f"{BASE}/{project['id']}/items", params={"status": "conflict"}, headers=reviewer.headers
    ).json()
    assert conflicts["total"] == 1
    [review] = conflicts["items"]
    assert sorted(a["label"] for a in review["annotations"]) == ["negative", "positive"]
    assert review["source_label"] == "positive"
    resolve = f"{BASE}/{project['id']}/items/{item}/resolve"
    # bob approves, but annotated this item: another reviewer decides it.
    assert client.post(resolve, json={"label": "negative"}, headers=bob.headers).status_code == 403
    assert client.post(resolve, json={"label": "negative"}, headers=ann.headers).status_code == 403
    assert client.post(resolve, json={"label": "meh"}, headers=reviewer.headers).status_code == 422
    resolved = client.post(resolve, json={"label": "positive"}, headers=reviewer.headers)
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolved_label"]) == (
        "resolved",
        "positive",
    )
    assert (
        client.post(resolve, json={"label": "negative"}, headers=reviewer.headers).status_code
        == 409
    )
    # A reviewer's decision stands: the annotator cannot undo their way around it.
    assert client.post(f"{BASE}/{project['id']}/undo", headers=bob.headers).status_code == 409
    assert client.post(f"{BASE}/{project['id']}/undo", headers=cid.headers).status_code == 404

    # Skip: the item goes to someone else and never comes back to the one who skipped it.
    second = _create(
        client, curator, project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id, cid.id])
    )
    skipped_id = _next(client, ann, second)["item"]["id"]
    skip = client.post(f"{BASE}/{second['id']}/items/{skipped_id}/skip", headers=ann.headers)
    assert skip.status_code == 200
    assert skip.json()["status"] == "skipped"
    assert _next(client, ann, second)["state"] == "done"
    assert _next(client, cid, second)["item"]["id"] == skipped_id


def test_active_learning_orders_and_why(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    tenant = curator.account.tenant
    store_texts(factory, tenant)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    texts = [t for t, _ in REVIEWS]
    # Margins |2p − 1|: 0.8, 0.1, 0.4, 0.6; the third is also scored differently by the canary;
    # only the fourth was scored within the last day.
    for text, p, at in zip(
        texts, [0.9, 0.55, 0.7, 0.8], [long_ago, long_ago, long_ago, None], strict=True
    ):
        log_prediction(factory, tenant, text, version="3", label="positive", probability=p, at=at)
    log_prediction(
        factory,
        tenant,
        texts[2],
        version="4",
        label="negative",
        probability=0.9,
        alias="staging",
        at=long_ago,
    )

    def first_for(order: str) -> dict[str, Any]:
        source = {"kind": "predictions"}
        project = _create(client, curator, project_body(source, [ann.id], order=order))
        item: dict[str, Any] = _next(client, ann, project)["item"]
        return {**item, "project": project}

    uncertain = first_for("uncertainty")
    assert uncertain["text"] == texts[1]
    assert "margin of 0.10" in uncertain["why"]
    disagreeing = first_for("disagreement")
    assert disagreeing["text"] == texts[2]
    assert disagreeing["why"].startswith("disagreement: model versions 3 (production), 4 (staging)")
    recent = first_for("drift")
    assert recent["text"] == texts[3]
    assert recent["why"].startswith("drift window: scored")
    # No label anywhere in the why: neither the model's answer nor a gold label may anchor.
    whys = [i["why"] for i in (uncertain, disagreeing, recent)]
    assert not any("positive" in why or "negative" in why for why in whys)

    suspected = first_for("suspected_error")
    project = suspected["project"]
    assert suspected["text"] == texts[1]  # no scores yet: the margin decides
    items = client.get(f"{BASE}/{project['id']}/items", headers=curator.headers).json()["items"]
    by_text = {i["text"]: i["id"] for i in items}
    scores = [
        {"item_id": by_text[texts[0]], "score": 0.97},
        {"item_id": by_text[texts[3]], "score": 0.2},
    ]
    url = f"{BASE}/{project['id']}/suspected-errors"
    stored = client.post(url, json={"scores": scores}, headers=curator.headers)
    assert stored.json() == {"updated": 2}
    assert client.post(url, json={"scores": scores}, headers=ann.headers).status_code == 403
    bad = [{"item_id": "0" * 32, "score": 0.5}]
    assert client.post(url, json={"scores": bad}, headers=curator.headers).status_code == 422
    skip = client.post(f"{BASE}/{project['id']}/items/{suspected['id']}/skip", headers=ann.headers)
    assert skip.status_code == 200
    top = _next(client, ann, project)["item"]
    assert (top["text"], top["why"]) == (texts[0], "suspected label error: score 0.97")


def test_a_feedback_project_puts_corrected_predictions_first(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    app = member(factory, "acme", "checkout-app", Role.VIEWER)
    tenant = curator.account.tenant
    store_texts(factory, tenant)
    texts = [t for t, _ in REVIEWS[:3]]
    for text in texts:
        log_prediction(factory, tenant, text, version="3", label="positive", probability=0.6)
    # The application says the second text was negative; the others confirm the model, and the
    # third is reported twice (one item per text).
    labels = ["positive", "negative", "positive", "positive"]
    items = [
        {"idempotency_key": f"k{n}", "task": "sentiment", "label": label, "text": text}
        for n, (text, label) in enumerate(zip([*texts, texts[2]], labels, strict=True))
    ]
    sent = client.post("/api/v1/feedback", json={"items": items}, headers=app.headers)
    assert sent.status_code == 200, sent.text
    body = project_body({"kind": "feedback", "window_hours": 1}, [ann.id], order="disagreement")
    project = _create(client, curator, body)
    assert project["item_count"] == 3
    first = _next(client, ann, project)["item"]
    assert first["text"] == texts[1]
    assert first["why"] == "disagreement: feedback says model version 3 answered wrongly"
    listed = client.get(f"{BASE}/{project['id']}/items", headers=curator.headers).json()
    sources = {i["text"]: i["source_label"] for i in listed["items"]}
    assert sources == dict(zip(texts, ["positive", "negative", "positive"], strict=True))


def test_a_running_project_switches_order_and_annotators(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.ANALYST)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    bob = member(factory, "acme", "bob", Role.ANNOTATOR)
    tenant = curator.account.tenant
    dataset = ingest(client, curator, REVIEWS)
    # The last text is the least sure (margin 0.02); the source order starts with the first.
    log_prediction(factory, tenant, REVIEWS[3][0], version="3", label="negative", probability=0.51)
    body = project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id], order="source")
    project = _create(client, curator, body)
    url = f"{BASE}/{project['id']}"
    assert _next(client, ann, project)["item"]["text"] == REVIEWS[0][0]

    def patch(who: Member, change: dict[str, Any]) -> Any:
        return client.patch(url, json=change, headers=who.headers)

    assert patch(ann, {"order": "uncertainty"}).status_code == 403
    assert patch(curator, {}).status_code == 422  # nothing to change
    assert patch(curator, {"order": "newest"}).status_code == 422
    switched = patch(curator, {"order": "uncertainty", "annotators": [bob.id]})
    assert switched.status_code == 200, switched.text
    shown = switched.json()["project"]
    assert (shown["order"], shown["annotators"]) == ("uncertainty", [bob.id])
    assert switched.json()["progress"]["locked"] == 0  # ann's lock went with ann
    assert client.get(f"{url}/next", headers=ann.headers).status_code == 403
    first = _next(client, bob, project)["item"]
    assert first["text"] == REVIEWS[3][0]
    assert "margin of 0.02" in first["why"]
    assert patch(curator, {"guidelines": "Sarcasm counts as negative."}).status_code == 200
    assert client.get(url, headers=bob.headers).json()["project"]["guidelines"] == (
        "Sarcasm counts as negative."
    )


def test_gold_items_measure_every_annotator_and_agreement_is_reported(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    bob = member(factory, "acme", "bob", Role.ANNOTATOR)
    dataset = ingest(client, curator, REVIEWS)
    body = project_body(
        {"kind": "dataset", "dataset_id": dataset},
        [ann.id, bob.id],
        overlap=2,
        order="source",
        gold=[{"text": "a masterpiece, see it twice", "label": "positive"}],
    )
    project = _create(client, curator, body)
    assert project["item_count"] == 5
    # Five shared items (the gold one last): ann p p n n p, bob p n n n n (gold is p).
    # κ: p_o = 3/5; ann p 3 n 2, bob p 1 n 4; p_e = (3·1 + 2·4)/25 = 0.44;
    #    κ = (0.6 − 0.44)/(1 − 0.44) = 2/7.
    # α: units [p,p] [p,n] [n,n] [n,n] [p,n] → o_pp = 2, o_pn = o_np = 2, o_nn = 4;
    #    n_p = 4, n_n = 6, n = 10; α = 1 − 9 · 4 / (4·6 + 6·4) = 1 − 36/48 = 0.25.
    gold = "a masterpiece, see it twice"
    texts = [t for t, _ in REVIEWS]
    ann_says = ["positive", "positive", "negative", "negative", "positive"]
    bob_says = ["positive", "negative", "negative", "negative", "negative"]
    labels = {
        ann.id: dict(zip([*texts, gold], ann_says, strict=True)),
        bob.id: dict(zip([*texts, gold], bob_says, strict=True)),
    }
    for who in (ann, bob):
        seen = []
        for _ in range(5):
            answer = _next(client, who, project)
            assert answer["state"] == "served", answer
            text = answer["item"]["text"]
            seen.append(text)
            answered = _annotate(client, who, project, answer["item"]["id"], labels[who.id][text])
            assert answered.status_code == 201
        # The gold item sits among the others (third of five), not after them.
        assert seen == [texts[0], texts[1], gold, texts[2], texts[3]]
        assert _next(client, who, project)["state"] == "done"
    report = client.get(f"{BASE}/{project['id']}/agreement", headers=ann.headers).json()
    assert report["annotators"] == 2
    assert report["items_with_overlap"] == 5
    assert report["cohen_kappa"] == pytest.approx(2 / 7)
    assert report["krippendorff_alpha"] == pytest.approx(0.25)
    per = {a["annotator"]: a for a in report["per_annotator"]}
    assert (per[ann.id]["gold_answered"], per[ann.id]["gold_accuracy"]) == (1, 1.0)
    assert (per[bob.id]["gold_answered"], per[bob.id]["gold_accuracy"]) == (1, 0.0)
    assert per[ann.id]["agreement_rate"] == pytest.approx(3 / 5)
    progress = client.get(f"{BASE}/{project['id']}", headers=ann.headers).json()["progress"]
    assert (progress["resolved"], progress["conflict"]) == (3, 1)  # gold items not counted


def test_roles_and_membership(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ANALYST)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    outsider = member(factory, "acme", "out", Role.ANNOTATOR)
    viewer = member(factory, "acme", "vic", Role.VIEWER)
    dataset = ingest(client, curator, REVIEWS[:2])
    body = project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id, viewer.id])
    # Annotators and viewers create no projects; a curator does.
    assert client.post(BASE, json=body, headers=ann.headers).status_code == 403
    assert client.post(BASE, json=body, headers=viewer.headers).status_code == 403
    project = _create(client, curator, body)
    url = f"{BASE}/{project['id']}"
    # Listed, but a viewer cannot annotate; an annotator who is not listed cannot either.
    assert client.get(f"{url}/next", headers=viewer.headers).status_code == 403
    assert client.get(f"{url}/next", headers=outsider.headers).status_code == 403
    item = _next(client, ann, project)["item"]["id"]
    assert _annotate(client, ann, project, item, "positive").status_code == 201
    # Annotators export nothing and read no other annotator's answers.
    assert client.post(f"{url}/export", json={}, headers=ann.headers).status_code == 403
    assert client.get(f"{url}/items", headers=ann.headers).status_code == 403
    # Everyone in the tenant may read the project and its agreement.
    assert client.get(url, headers=viewer.headers).status_code == 200
    assert client.get(f"{url}/agreement", headers=viewer.headers).status_code == 200
    assert [p["id"] for p in client.get(BASE, headers=viewer.headers).json()] == [project["id"]]

    # Inputs are bounded.
    long_note = {"label": "positive", "note": "x" * 2001}
    second = _next(client, ann, project)["item"]["id"]
    bad = client.post(f"{url}/items/{second}/annotations", json=long_note, headers=ann.headers)
    assert bad.status_code == 422
    assert _annotate(client, ann, project, second, "sarcastic").status_code == 422
    too_many = {**body, "annotators": [f"a{i}" for i in range(101)]}
    assert client.post(BASE, json=too_many, headers=curator.headers).status_code == 422
    overlap = {**body, "overlap": 3}  # more than the two annotators
    assert client.post(BASE, json=overlap, headers=curator.headers).status_code == 422
    no_texts = project_body({"kind": "predictions"}, [ann.id])
    refused = client.post(BASE, json=no_texts, headers=curator.headers)
    assert refused.status_code == 409  # the tenant stores no prediction texts
    assert "store_prediction_texts" in refused.json()["detail"]


def test_another_tenants_projects_are_not_found(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    dataset = ingest(client, curator, REVIEWS[:2])
    project = _create(
        client, curator, project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id])
    )
    item = _next(client, ann, project)["item"]["id"]
    # The other tenant's caller holds every role, and even lists ann's id among its annotators.
    rival = member(factory, "rival", "boss", *(set(Role) - {Role.PLATFORM_ADMIN}))
    url = f"{BASE}/{project['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("GET", f"{url}/next", None),
        ("GET", f"{url}/items", None),
        ("GET", f"{url}/agreement", None),
        ("POST", f"{url}/items/{item}/annotations", {"label": "positive"}),
        ("POST", f"{url}/items/{item}/skip", None),
        ("POST", f"{url}/undo", None),
        ("POST", f"{url}/export", {}),
    ]:
        assert client.request(method, path, json=body, headers=rival.headers).status_code == 404
    assert client.get(BASE, headers=rival.headers).json() == []
    # Nor can a project be made over another tenant's dataset.
    theirs = project_body({"kind": "dataset", "dataset_id": dataset}, [rival.id])
    assert client.post(BASE, json=theirs, headers=rival.headers).status_code == 404
