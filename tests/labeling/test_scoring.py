"""Texts the prediction log never scored are scored by the API process's production model when a
project is created (a real ONNX model from a real MLflow registry); logged answers are kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sentimentops.app.api import create_app
from sentimentops.core.vocabulary import Role
from sentimentops.inference.models import PredictionRecord
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.labeling.conftest import ingest, log_prediction, member, project_body

# The test model's logits are 2 × (negative words, positive words): "good and bad" is a tie.
TEXTS = ["good great wonderful love", "awful", "good and bad", "the good film was bad but good"]


@pytest.fixture
def scoring_client(fresh_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = register(tracking_uri, "sentiment", make_onnx_artifact(tmp_path / "m"), "production")
    assert version == "1"
    settings = make_settings(
        fresh_db_url,
        tmp_path / "data",
        mlflow_tracking_uri=tracking_uri,
        serving_tasks=["sentiment"],
        model_poll_seconds=0.5,
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the production model did not load"
            time.sleep(0.2)
        yield client


def test_unscored_texts_are_scored_by_the_production_model(scoring_client: TestClient) -> None:
    client = scoring_client
    factory = Factory(fastapi_app(client).state.sessions, client)
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    tenant = curator.account.tenant
    # The first text was served before, by version 7, with margin |2 · 0.55 − 1| = 0.1.
    log_prediction(factory, tenant, TEXTS[0], version="7", label="positive", probability=0.55)
    dataset = ingest(client, curator, [(t, 1) for t in TEXTS])
    body = project_body({"kind": "dataset", "dataset_id": dataset}, [ann.id])
    created = client.post("/api/v1/labeling/projects", json=body, headers=curator.headers)
    assert created.status_code == 201, created.text
    project = created.json()["project"]["id"]

    listed = client.get(f"/api/v1/labeling/projects/{project}/items", headers=curator.headers)
    items = {i["text"]: i for i in listed.json()["items"]}
    assert items[TEXTS[0]]["model_version"] == "7"
    assert items[TEXTS[0]]["margin"] == pytest.approx(0.1)
    for text in TEXTS[1:]:
        assert items[text]["model_version"] == "1"
    assert items[TEXTS[2]]["margin"] == pytest.approx(0.0, abs=1e-6)
    assert items[TEXTS[1]]["predicted_label"] == "negative"
    assert items[TEXTS[1]]["margin"] > 0.5
    assert items[TEXTS[3]]["predicted_label"] == "positive"

    # Uncertainty order: the tie first, then the logged 0.1, then the confident ones.
    served = []
    for _ in TEXTS[:2]:
        item = client.get(f"/api/v1/labeling/projects/{project}/next", headers=ann.headers).json()
        served.append(item["item"])
        answer = {"label": "positive"}
        url = f"/api/v1/labeling/projects/{project}/items/{item['item']['id']}/annotations"
        assert client.post(url, json=answer, headers=ann.headers).status_code == 201
    assert [s["text"] for s in served] == [TEXTS[2], TEXTS[0]]
    assert served[0]["why"].startswith("uncertainty: model version 1 separated the labels")
    # Scoring for the queue is not traffic: the prediction log holds only the row logged above.
    with factory.sessions() as session:
        logged = session.execute(select(func.count()).select_from(PredictionRecord)).scalar_one()
    assert logged == 1
