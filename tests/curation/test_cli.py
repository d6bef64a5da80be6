"""`sentimentops data curate` in-process with Typer's runner, against a real database, store and
the agents' checkpointer: two ingested versions whose label balance drifts give a data issue,
the planted flips a relabeling draft in the agent's thread; a viewer is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from tests.curation.synthetic import labelled

runner = CliRunner()


@pytest.fixture
def env(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _ingest(env: Path, name: str, *, seed: int, share: float, flips: int) -> str:
    frame, _ = labelled(200, flips=flips, seed=seed, sarcastic_share=share)
    path = env / f"{name}-{seed}.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        ["data", "ingest", str(path), "--task", "sarcasm", "--name", name,
         "--text-col", "text", "--label-col", "label", "--id-col", "id"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output.split("created version ", 1)[1].split()[0]


def test_curate_opens_an_issue_and_drafts_a_relabeling(env: Path) -> None:
    assert runner.invoke(app, ["admin", "create-tenant", "acme"]).exit_code == 0
    _ingest(env, "headlines", seed=1, share=0.5, flips=0)
    second = _ingest(env, "headlines", seed=3, share=0.75, flips=8)

    denied = runner.invoke(app, ["data", "curate", second, "--role", "viewer"])
    assert denied.exit_code == 1
    assert "requires one of the roles" in denied.output

    result = runner.invoke(
        app, ["data", "curate", second, "--as", "ana", "--role", "analyst", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dataset_version_id"] == second
    assert report["issue"]["kinds"] == ["label_balance"]
    assert report["suspects"]
    assert report["thread_id"]
    assert report["draft_plan_hash"]

    text = runner.invoke(app, ["data", "curate", second, "--as", "ana", "--role", "analyst"])
    assert text.exit_code == 0, text.output
    assert "data issue opened:" in text.output
    assert "relabeling proposal waiting as a draft" in text.output
