"""train_model on a dataset version through the real tool: the tenant's version trains (its
train split), evaluates (its test split, else the reference one) and is named, with its lineage,
on the MLflow run and the registered version; another tenant's version is NotFound."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.core.db import transaction
from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.identity import service as identity
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.tools.train_model import TrainModelInput, _key_hash
from sentimentops.training import service as training
from sentimentops.training.datasets import service as datasets
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.reference_data import load_task
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import Plan, plan_hash
from sentimentops.workflows.templates import lifecycle_plan
from tests.workflows.conftest import (
    TENANT,
    cli_env,
    cli_platform,
    engineer,
    platform_settings,
    run_cli,
)
from tests.workflows.test_plans_api import running_api

# plan_hash of the sarcasm/tfidf_lr lifecycle of engineer() in TENANT, computed with the template
# as it was before `dataset_version` existed.
LIFECYCLE_HASH_BEFORE = "8ccf3c90cc89d84af545b762c8deb9292d175162a5da1a367ac2bb5c802ae10a"


def _headlines(per_split: dict[str, int]) -> pd.DataFrame:
    """Labelled headlines of the bundled data with ids of their own, as an export holds them."""
    data = load_task("sarcasm", REPO_ROOT / "datasets")
    data = data[data["domain"] == "headlines"] if "domain" in data.columns else data
    parts = [
        data[data["split"] == split].sample(n=n, random_state=1).assign(split=split)
        for split, n in per_split.items()
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame["id"] = [f"row-{i}" for i in range(len(frame))]
    return frame[["id", "text", "label", "split"]]


def _export(
    sessions: sessionmaker[Session], settings: Settings, slug: str, frame: pd.DataFrame
) -> tuple[DatasetVersion, DatasetVersion]:
    """A root version (the labelled rows, as a labelling export records them) and its split
    child: what the tool is asked to train on, with a lineage of two."""
    with transaction(sessions) as session:
        tenant = identity.tenant_by_slug(session, slug) or identity.create_tenant(
            session, actor="test", slug=slug
        )
        owner = datasets.Owner(tenant.id, tenant.slug, "test:alice")
        root, _ = datasets.record_version(
            session,
            settings=settings,
            owner=owner,
            name="labeling-export",
            task="sarcasm",
            frame=frame.drop(columns=["split"]),
            parent_ids=[],
            transform="labeling_export",
            transform_params={"project": "p1"},
            source_name=None,
            source_sha256=None,
        )
        child, created = datasets.derive(
            session,
            settings=settings,
            owner=owner,
            parent=root,
            frame=frame,
            transform="split",
            transform_params={"rule": "given"},
        )
        assert created
        session.expunge_all()
    return root, child


def _context(
    settings: Settings, sessions: sessionmaker[Session], opa_url: str, tenant: str = TENANT
) -> ToolContext:
    uri = settings.resolved_mlflow_tracking_uri
    return ToolContext(
        settings=settings,
        sessions=sessions,
        policy=OpaPolicyEngine(opa_url),
        registry=lambda: MlflowRegistry(uri),
        tenant=tenant,
        actor="alice",
    )


def _mlflow(settings: Settings) -> MlflowClient:
    uri = settings.resolved_mlflow_tracking_uri
    return MlflowClient(uri, registry_uri=uri)


def _test_rows(settings: Settings, run_id: str, tmp_path: Path) -> int:
    """How many test texts the run's evaluation report was computed on."""
    local = _mlflow(settings).download_artifacts(run_id, "evaluation/report.json", str(tmp_path))
    return int(json.loads(Path(local).read_text(encoding="utf-8"))["test"]["n"])


async def test_train_model_trains_on_the_tenants_version_and_names_it(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path)
    frame = _headlines({"train": 400, "test": 120})
    root, child = _export(app_sessions, settings, TENANT, frame)
    ctx = _context(settings, app_sessions, opa_url)

    out = await TOOLS["train_model"].call(
        ctx,
        {
            "task": "sarcasm",
            "dataset_version": child.id[:10],  # a unique prefix resolves to the version
            "idempotency_key": "plan-d:1",
        },
    )

    assert out.metrics["n_train"] == 400.0
    run = _mlflow(settings).get_run(out.run_id)
    tags = run.data.tags
    assert tags["sentimentops.dataset_version"] == child.id
    assert tags["sentimentops.dataset_content_hash"] == child.content_hash
    assert tags["sentimentops.test_data"] == "dataset_version"
    lineage = json.loads(tags["sentimentops.dataset_lineage"])
    assert [(n["id"], n["transform"], n["parents"]) for n in lineage] == [
        (child.id, "split", [root.id]),
        (root.id, "labeling_export", []),
    ]
    # Evaluated on the version's own 120 test rows, not the reference test split.
    assert _test_rows(settings, out.run_id, tmp_path) == 120
    registered = _mlflow(settings).get_model_version("sarcasm", out.version)
    assert registered.tags["sentimentops.dataset_version"] == child.id
    assert registered.tags["sentimentops.test_data"] == "dataset_version"

    # The same call again (a retry) finds the version instead of training a second one.
    again = await TOOLS["train_model"].call(
        ctx, {"task": "sarcasm", "dataset_version": child.id, "idempotency_key": "plan-d:1"}
    )
    assert (again.version, again.run_id) == (out.version, out.run_id)
    assert len(_mlflow(settings).search_model_versions("name='sarcasm'")) == 1


async def test_a_version_without_a_test_split_is_evaluated_on_the_reference_test_split(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path)
    _root, child = _export(app_sessions, settings, TENANT, _headlines({"train": 300}))
    ctx = _context(settings, app_sessions, opa_url)

    out = await TOOLS["train_model"].call(ctx, {"task": "sarcasm", "dataset_version": child.id})

    tags = _mlflow(settings).get_run(out.run_id).data.tags
    assert tags["sentimentops.test_data"] == "reference"
    config = training.resolve_config("sarcasm", "tfidf_lr", None)
    reference = training.load_data(config, settings.datasets_dir)
    assert _test_rows(settings, out.run_id, tmp_path) == int((reference["split"] == "test").sum())
    assert tags["sentimentops.dataset_version"] == child.id
    assert out.metrics["n_train"] == 300.0


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_another_tenants_version_is_not_found_and_nothing_trains(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path)
    _root, theirs = _export(app_sessions, settings, "globex", _headlines({"train": 50}))
    with transaction(app_sessions) as session:
        identity.create_tenant(session, actor="test", slug=TENANT)
    ctx = _context(settings, app_sessions, opa_url)

    for ref in (theirs.id, theirs.id[:12], theirs.content_hash[:12]):
        with pytest.raises(NotFound):
            await TOOLS["train_model"].call(ctx, {"task": "sarcasm", "dataset_version": ref})
    # A version of the other task is refused by name, also before anything trains.
    with pytest.raises(InvalidInput, match="is for sarcasm, not sentiment"):
        await TOOLS["train_model"].call(
            _context(settings, app_sessions, opa_url, tenant="globex"),
            {"task": "sentiment", "dataset_version": theirs.id},
        )
    assert _mlflow(settings).search_registered_models() == []


def test_the_idempotency_key_includes_the_dataset_version() -> None:
    params = TrainModelInput(task="sarcasm", idempotency_key="plan-x:1")
    # Without a version: the hash versions registered before this input existed carry.
    assert _key_hash("acme", params) == hashlib.sha256(b"acme:plan-x:1").hexdigest()
    one, two = "a" * 32, "b" * 32
    assert len({_key_hash("acme", params), _key_hash("acme", params, one)}) == 2
    assert _key_hash("acme", params, one) != _key_hash("acme", params, two)


def test_the_lifecycle_passes_the_version_to_the_train_step_only_when_given() -> None:
    def plan(dataset_version: str | None = None) -> Plan:
        return lifecycle_plan(
            tenant=TENANT,
            proposer=engineer(),
            task="sarcasm",
            family="tfidf_lr",
            dataset_version=dataset_version,
        )

    without, with_version = plan(), plan("c" * 32)
    assert "dataset_version" not in without.steps[1].params
    assert with_version.steps[1].params["dataset_version"] == "c" * 32
    # The hash this plan had before the input existed: approvals bound to it still hold.
    assert plan_hash(without) == LIFECYCLE_HASH_BEFORE
    assert plan_hash(with_version) != LIFECYCLE_HASH_BEFORE


async def test_the_lifecycle_api_names_the_callers_version_and_refuses_anothers(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with running_api(temporal_client, opa_url, fresh_db_url, tmp_path) as api:
        settings = api.platform.settings
        _root, mine = _export(api.platform.sessions, settings, TENANT, _headlines({"train": 40}))
        _root, theirs = _export(
            api.platform.sessions, settings, "globex", _headlines({"train": 41})
        )

        refused = await api.post("/lifecycle", {"task": "sarcasm", "dataset_version": theirs.id})
        assert refused.status_code == 404, refused.text
        wrong_task = await api.post("/lifecycle", {"task": "sentiment", "dataset_version": mine.id})
        assert wrong_task.status_code == 422, wrong_task.text
        assert "is for sarcasm, not sentiment" in wrong_task.text

        accepted = await api.post(
            "/lifecycle", {"task": "sarcasm", "dataset_version": mine.id[:9], "soak_seconds": 1}
        )
        assert accepted.status_code == 202, accepted.text
        workflow_id = accepted.json()["workflow_id"]
        answer = await asyncio.to_thread(
            api.http.post, f"/api/v1/plans/{workflow_id}/cancel", headers=api.engineer
        )
        assert answer.status_code in (200, 202), answer.text
        detail = await api.plan(workflow_id, {"cancelled", "completed", "failed", "gate_failed"})
        # The prefix was resolved when the plan was proposed: the plan (and its hash, which an
        # approval is bound to) names the full id.
        assert detail["plan"]["rationale"] == (
            f"model lifecycle: tfidf_lr for sarcasm on dataset version {mine.id}"
        )


async def test_lifecycle_start_from_the_cli_with_a_dataset_version(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with cli_platform(temporal_client, opa_url, fresh_db_url, tmp_path) as platform:
        env = cli_env(platform, fresh_db_url)
        settings, sessions = platform.settings, platform.sessions
        _root, mine = _export(sessions, settings, TENANT, _headlines({"train": 40}))
        _root, theirs = _export(sessions, settings, "globex", _headlines({"train": 41}))
        start = ("lifecycle", "start", "--task", "sarcasm", "--tenant", TENANT)

        refused = await run_cli(env, *start, "--dataset-version", theirs.id)
        assert refused.exit_code == 1
        assert "dataset version not found" in refused.output
        malformed = await run_cli(env, *start, "--dataset-version", "../etc")
        assert malformed.exit_code == 1
        assert "invalid lifecycle" in malformed.output

        started = await run_cli(env, *start, "--dataset-version", mine.id[:8])
        assert started.exit_code == 0, started.output
        workflow_id = started.output.split()[1]
        cancelled = await run_cli(
            env, "workflows", "cancel", workflow_id, "--tenant", TENANT, "--as", "operator"
        )
        assert cancelled.exit_code == 0, cancelled.output
        with sessions() as session:
            registered = session.get(PlanExecution, workflow_id)
            assert registered is not None
            assert registered.rationale.endswith(f"on dataset version {mine.id}")
