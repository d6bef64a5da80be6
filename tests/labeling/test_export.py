"""Export on a real app, database and snapshot store: resolved labels become a content-hashed
dataset version whose lineage names the project, its source and its annotators."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import Role
from sentimentops.training.datasets import service as datasets
from tests.identity.conftest import Factory
from tests.labeling.conftest import (
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


def _label_next(client: TestClient, who: Member, project_id: str, label: str) -> dict[str, Any]:
    item: dict[str, Any] = client.get(f"{BASE}/{project_id}/next", headers=who.headers).json()[
        "item"
    ]
    answered = client.post(
        f"{BASE}/{project_id}/items/{item['id']}/annotations",
        json={"label": label},
        headers=who.headers,
    )
    assert answered.status_code == 201, answered.text
    return item


def test_a_dataset_project_exports_a_child_version_naming_the_project(
    client: TestClient, factory: Factory, labeling_settings: Settings
) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    source = ingest(client, curator, REVIEWS)
    body = project_body(
        {"kind": "dataset", "dataset_id": source},
        [ann.id],
        order="source",
        gold=[{"text": "a masterpiece", "label": "positive"}],
    )
    created = client.post(BASE, json=body, headers=curator.headers)
    project = created.json()["project"]
    export_url = f"{BASE}/{project['id']}/export"
    nothing = client.post(export_url, json={}, headers=curator.headers)
    assert nothing.status_code == 422
    assert "nothing to export" in nothing.json()["detail"]

    _label_next(client, ann, project["id"], "positive")  # as the source says
    _label_next(client, ann, project["id"], "positive")  # the source said negative
    exported = client.post(export_url, json={"name": "reviews-relabeled"}, headers=curator.headers)
    assert exported.status_code == 201, exported.text
    result = exported.json()
    assert (result["created"], result["rows"], result["relabeled"]) == (True, 4, 1)
    version = result["version"]
    assert version["name"] == "reviews-relabeled"
    assert version["parent_ids"] == [source]
    assert version["transform"] == "relabel"
    params = version["transform_params"]
    assert params["project_id"] == project["id"]
    assert params["source_version"] == source
    assert params["annotators"] == [ann.id]
    assert params["items"] == 2  # the gold item is not exported
    assert version["label_balance"] == {"negative": 1, "positive": 3}

    lineage = client.get(f"/api/v1/datasets/{version['id']}/lineage", headers=curator.headers)
    assert [p["id"] for p in lineage.json()["parents"]] == [source]
    with factory.sessions() as session:
        stored = datasets.get_version(
            session, tenant_id=curator.account.tenant.id, ref=version["id"]
        )
        frame = datasets.load_frame(labeling_settings, stored)
        actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert frame["text"].tolist() == [t for t, _ in REVIEWS]
    assert frame["label"].tolist() == [1, 1, 1, 0]
    assert {"labeling.export", "dataset.relabel", "labeling.annotate"} <= actions

    again = client.post(export_url, json={"name": "reviews-relabeled"}, headers=curator.headers)
    assert (again.json()["created"], again.json()["version"]["id"]) == (False, version["id"])
    shown = client.get(f"{BASE}/{project['id']}", headers=curator.headers).json()["project"]
    assert shown["exports"] == [version["id"]]
    bad_name = client.post(export_url, json={"name": "no spaces please"}, headers=curator.headers)
    assert bad_name.status_code == 422


def test_a_prediction_log_project_exports_a_split_root_version(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.ANALYST)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    bob = member(factory, "acme", "bob", Role.ANNOTATOR)
    tenant = curator.account.tenant
    store_texts(factory, tenant)
    for text, _label in REVIEWS:
        log_prediction(factory, tenant, text, version="3", label="positive", probability=0.6)
    body = project_body({"kind": "predictions"}, [ann.id, bob.id], order="source", overlap=2)
    project = client.post(BASE, json=body, headers=curator.headers).json()["project"]
    assert project["item_count"] == 4
    # Two items agreed, one in conflict, one never answered: two rows are exported.
    for ann_label, bob_label in [("positive", "positive"), ("negative", "negative")]:
        _label_next(client, ann, project["id"], ann_label)
        _label_next(client, bob, project["id"], bob_label)
    _label_next(client, ann, project["id"], "positive")
    _label_next(client, bob, project["id"], "negative")

    exported = client.post(f"{BASE}/{project['id']}/export", json={}, headers=curator.headers)
    assert exported.status_code == 201, exported.text
    result = exported.json()
    version = result["version"]
    assert (result["rows"], version["row_count"]) == (2, 2)
    assert version["name"] == f"labeling-{project['id'][:12]}"
    assert version["parent_ids"] == []
    assert version["transform"] == "labeling_export"
    assert version["source_name"] == f"labeling_project:{project['id']}"
    params = version["transform_params"]
    assert (params["project_id"], params["source"]) == (project["id"], "predictions")
    assert params["annotators"] == sorted([ann.id, bob.id])
    assert params["split"]["rule"] == "hash_of_normalised_text"
    assert [c["name"] for c in version["schema"]] == ["id", "text", "label", "split"]
    assert version["label_balance"] == {"negative": 1, "positive": 1}
    # The exported version is the tenant's like any other: listed, and another tenant's 404.
    listed = client.get("/api/v1/datasets", headers=curator.headers).json()
    assert version["id"] in [v["id"] for v in listed]
    rival = member(factory, "rival", "boss", Role.ML_ENGINEER)
    assert client.get(f"/api/v1/datasets/{version['id']}", headers=rival.headers).status_code == 404
