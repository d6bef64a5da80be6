"""The web UI end to end: the current UI sources built with Vite, served by a real API process
(models loaded, a seeded tenant and account), driven by Debian's Chromium through
playwright-core (ui/e2e/run.mjs): sign in with client credentials, score a text and see the
model version, open the approvals inbox and plans list, axe-core on every view, the CSP, the
first contentful paint; and the bundle budgets (ui/scripts/check-budget.mjs) on that build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentimentops.app import schema
from sentimentops.app.processes.probes import http_ok, wait_until
from sentimentops.approvals import service as approvals
from sentimentops.core import db
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.services import free_port

UI = Path(__file__).resolve().parents[2] / "ui"
NODE_BIN = UI / "node_modules" / ".bin"


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the UI tests (scripts/setup installs it)"
    return node


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UI as the sources are now (not whatever ui/dist holds), built into a temp folder."""
    out = tmp_path_factory.mktemp("ui-dist")
    subprocess.run(
        [
            str(NODE_BIN / "vite"),
            "build",
            "--outDir",
            str(out),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
        cwd=UI,
        check=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, dist: Path
) -> Iterator[tuple[str, str, str, str]]:
    """A real API process serving `dist`: (base URL, client id, client secret, an API key of
    the same account); the tenant has one
    pending approval request (ui/e2e/run.mjs expects it)."""
    data = tmp_path_factory.mktemp("ui-e2e")
    (data / "mlflow").mkdir()
    registry = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    for task in ("sentiment", "sarcasm"):
        register(registry, task, make_onnx_artifact(data / task, task=task), "production")
    db_url = f"sqlite:///{data / 'app.db'}"
    schema.upgrade(db_url)
    sessions = db.make_session_factory(db.make_engine(db_url))
    with db.transaction(sessions) as session:
        tenant = service.create_tenant(session, actor="test", slug="ui-e2e")
        account = service.create_service_account(
            session,
            actor="test",
            tenant=tenant,
            name="reviewer",
            kind=PrincipalKind.SERVICE,
            roles=frozenset({Role.VIEWER, Role.APPROVER}),
        )
        key = service.create_api_key(
            session, actor="test", tenant=tenant, account=account.account, name="ui-e2e"
        )
        # A step waiting for a human, as the plan workflow leaves one (proposed by someone else:
        # the approver is never the proposer), so the inbox shows a real request.
        approvals.create_request(
            session,
            tenant=tenant.slug,
            tenant_id=tenant.id,
            workflow_id="plan-ui-e2e",
            plan_hash="c0ffee" * 10 + "c0ff",
            step_index=1,
            tool="promote_model",
            params={"task": "sentiment", "version": "1", "alias": "production"},
            requester="ml-engineer",
            requester_kind="human",
            rationale="Candidate beats production on every slice",
            reasons=["promotion to production needs an approver"],
            ttl_seconds=3600,
        )
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(data),
        "SENTIMENTOPS_DATABASE_URL": db_url,
        "SENTIMENTOPS_API_PORT": str(port),
        "SENTIMENTOPS_UI_DIST_DIR": str(dist),
    }
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "sentimentops.app.cli", "api"],
        env=env,
        stdout=(data / "api.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(http_ok(f"{base}/readyz"), timeout=90), (data / "api.log").read_text()
        yield base, account.account.id, account.client_secret, key.secret
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_budgets_of_the_build(dist: Path) -> None:
    run = subprocess.run(
        [_node(), "scripts/check-budget.mjs", str(dist)],
        cwd=UI,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sizes = json.loads(run.stdout)
    assert 0 < sizes["initial_js_gzip_bytes"] <= sizes["budget_bytes"]


def test_sign_in_score_and_review_in_chromium(
    api: tuple[str, str, str, str], tmp_path: Path
) -> None:
    base, client_id, client_secret, api_key = api
    # UI_SCREENSHOTS_DIR keeps the screenshots (docs/ui.md's come from such a run).
    shots = Path(os.environ.get("UI_SCREENSHOTS_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [_node(), "e2e/run.mjs"],
        cwd=UI,
        env={
            **os.environ,
            "UI_BASE_URL": base,
            "E2E_CLIENT_ID": client_id,
            "E2E_CLIENT_SECRET": client_secret,
            "E2E_API_KEY": api_key,
            "E2E_SCREENSHOTS": str(shots),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    print(run.stdout)  # the measurements, for the record (pytest -s)
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["sentiment_label"].startswith("positive")
    assert " (production" in measured["sentiment_model"]
    views = ("login", "playground", "approvals", "approval-dialog", "approvals-dark", "plans")
    for view in views:
        assert measured[f"axe_{view}"]["serious"] == 0
        assert (shots / f"{view}.png").stat().st_size > 0
