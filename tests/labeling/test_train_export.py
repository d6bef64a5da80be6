"""Train on an export: texts from the prediction log, labelled by an annotator through the
labeling API, exported as a dataset version, and trained on by the real train_model tool (the
run names the export and, through its lineage, the project)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.core.vocabulary import Role
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.training.reference_data import LABEL_NAMES, load_task
from tests.identity.conftest import Factory
from tests.labeling.conftest import log_prediction, member, project_body, store_texts

BASE = "/api/v1/labeling/projects"
TEXTS = 60


def _short_reviews() -> dict[str, str]:
    """Short labelled reviews of the bundled data: text → right label."""
    data = load_task("sentiment", REPO_ROOT / "datasets")
    short = data[data["text"].str.len().between(40, 300)].sample(n=TEXTS, random_state=3)
    names = LABEL_NAMES["sentiment"]
    return {
        str(t): names[int(label)] for t, label in zip(short["text"], short["label"], strict=True)
    }


async def test_a_labelled_export_trains_a_candidate_that_names_it(
    client: TestClient, factory: Factory, labeling_settings: Settings, opa_url: str
) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    ann = member(factory, "acme", "ann", Role.ANNOTATOR)
    tenant = curator.account.tenant
    store_texts(factory, tenant)
    truth = _short_reviews()
    for text in truth:
        log_prediction(factory, tenant, text, version="1", label="positive", probability=0.55)
    body = project_body({"kind": "predictions"}, [ann.id], order="source")
    created = client.post(BASE, json=body, headers=curator.headers)
    assert created.status_code == 201, created.text
    project = created.json()["project"]
    for _ in range(TEXTS):
        item = client.get(f"{BASE}/{project['id']}/next", headers=ann.headers).json()["item"]
        answered = client.post(
            f"{BASE}/{project['id']}/items/{item['id']}/annotations",
            json={"label": truth[item["text"]]},
            headers=ann.headers,
        )
        assert answered.status_code == 201, answered.text
    exported = client.post(f"{BASE}/{project['id']}/export", json={}, headers=curator.headers)
    assert exported.status_code == 201, exported.text
    version = exported.json()["version"]
    assert version["row_count"] == TEXTS

    uri = labeling_settings.resolved_mlflow_tracking_uri
    ctx = ToolContext(
        settings=labeling_settings,
        sessions=factory.sessions,
        policy=OpaPolicyEngine(opa_url),
        registry=lambda: MlflowRegistry(uri),
        tenant=tenant.slug,
        actor="cura",
    )
    out = await TOOLS["train_model"].call(
        ctx, {"task": "sentiment", "dataset_version": version["id"]}
    )

    # tfidf_lr for sentiment fits on train and validation (its config's fit_splits).
    splits = version["split_counts"]
    assert out.metrics["n_train"] == splits["train"] + splits.get("validation", 0)
    tags = MlflowClient(uri, registry_uri=uri).get_run(out.run_id).data.tags
    assert tags["sentimentops.dataset_version"] == version["id"]
    expected = "dataset_version" if splits.get("test") else "reference"
    assert tags["sentimentops.test_data"] == expected
    [node] = json.loads(tags["sentimentops.dataset_lineage"])
    assert (node["id"], node["transform"]) == (version["id"], "labeling_export")
    assert node["source"] == f"labeling_project:{project['id']}"
