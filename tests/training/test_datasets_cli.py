"""`sentimentops data …` in-process with Typer's runner, against a real database and store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_ingest_process_list_show_lineage(env: Path) -> None:
    assert runner.invoke(app, ["data", "list"]).exit_code == 1  # no tenant yet
    assert runner.invoke(app, ["admin", "create-tenant", "acme"]).exit_code == 0
    path = env / "heads.jsonl"
    rows = [
        {
            "headline": f"area man <b>number</b> {i} wins, mail a{i}@example.com",
            "sarcastic": i % 2 == 1,
        }
        for i in range(40)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ingest = [
        "data",
        "ingest",
        str(path),
        "--task",
        "sarcasm",
        "--name",
        "heads",
        "--text-col",
        "headline",
        "--label-col",
        "sarcastic",
    ]
    done = runner.invoke(app, ingest)
    assert done.exit_code == 0, done.output
    assert "created version" in done.output
    version = done.output.split("created version ", 1)[1].split()[0]
    assert "not_sarcastic 20, sarcastic 20" in done.output
    assert "unchanged" in runner.invoke(app, ingest).output

    processed = runner.invoke(app, ["data", "process", version[:10]])
    assert processed.exit_code == 0, processed.output
    final = processed.output.split("final version ", 1)[1].split()[0]
    lineage = runner.invoke(app, ["data", "lineage", final, "--tenant", "acme"])
    assert lineage.exit_code == 0, lineage.output
    for transform in ("split", "pii_scrubbed", "language_detected", "cleaned", "ingest"):
        assert transform in lineage.output
    assert "heads.jsonl" in lineage.output
    listed = runner.invoke(app, ["data", "list"])
    assert final in listed.output
    assert version in listed.output
    shown = runner.invoke(app, ["data", "show", final])
    assert "language: string" in shown.output


def test_a_rejected_file_prints_the_failing_expectations(env: Path) -> None:
    assert runner.invoke(app, ["admin", "create-tenant", "acme"]).exit_code == 0
    path = env / "bad.csv"
    path.write_text("text,label\ngood film,positive\n,negative\nsame,neg\nsame,neg\n")
    result = runner.invoke(
        app,
        [
            "data",
            "ingest",
            str(path),
            "--task",
            "sentiment",
            "--name",
            "x",
            "--text-col",
            "text",
            "--label-col",
            "label",
        ],
    )
    assert result.exit_code == 1
    assert "no missing values" in result.output
    assert "dataset rejected; nothing was stored" in result.output
    assert "Traceback" not in result.output
    assert not (env / "data" / "datasets").exists() or not any(
        (env / "data" / "datasets").iterdir()
    )
