"""`sentimentops kb …` in-process with Typer's runner, on a real database and Qdrant local mode
(no platform running: each command opens the knowledge base itself)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.knowledge_base.embedding import ENCODER_FILE

runner = CliRunner()


@pytest.fixture
def env(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder_file: Path
) -> Path:
    data = tmp_path / "data"
    (data / "kb").mkdir(parents=True)
    # The session's export, linked in: the data directory then has a current encoder.
    os.link(encoder_file, data / "kb" / ENCODER_FILE)
    os.link(encoder_file.with_suffix(".json"), data / "kb" / encoder_file.with_suffix(".json").name)
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(data))
    return tmp_path


def _ok(args: list[str]) -> str:
    """The command's standard output (progress goes to standard error)."""
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    return done.stdout


def _sources(output: str) -> list[str]:
    return [hit["source"] for hit in json.loads(output)]


def test_reindex_search_ingest_status(env: Path) -> None:
    # Before anything is indexed a search says so, instead of "nothing found".
    empty = runner.invoke(app, ["kb", "search", "how do I roll back sentiment"])
    assert empty.exit_code == 0, empty.output
    assert "holds no documents yet" in empty.stderr
    assert "nothing found" not in empty.stdout

    indexed = json.loads(_ok(["kb", "reindex", "--scope", "docs", "--json"]))
    [docs] = indexed["scopes"]
    assert docs["scope"] == "docs"
    assert docs["embedded"] == docs["chunks"] > 100
    again = json.loads(_ok(["kb", "reindex", "--scope", "docs", "--json"]))
    assert again["scopes"][0]["embedded"] == 0

    # A fresh install (no tenant yet): the platform's documents.
    shown = _ok(["kb", "search", "how do I roll back sentiment"])
    assert shown.splitlines()[0].startswith("1. docs/runbooks.md › Runbooks › Rolling back a model")
    found = json.loads(_ok(["kb", "search", "how do I roll back sentiment", "--json"]))
    assert found[0]["source"] == "docs/runbooks.md"
    assert found[0]["heading_path"][-1] == "Rolling back a model"

    _ok(["admin", "create-tenant", "acme"])
    _ok(["admin", "create-tenant", "globex"])
    notes = env / "pager.md"
    notes.write_text("# Pager duty\nThe Osprey dashboard pages the sarcasm on-call at night.\n")
    added = _ok(["kb", "ingest", str(notes), "--tenant", "acme", "--as", "alice"])
    assert "added pager.md as document" in added
    assert "already there" in _ok(["kb", "ingest", str(notes), "--tenant", "acme", "--as", "alice"])

    query = ["kb", "search", "who does the Osprey dashboard page", "--json", "--kind", "upload"]
    [mine] = json.loads(_ok([*query, "--tenant", "acme"]))
    assert mine["title"] == "pager.md"
    assert _sources(_ok([*query, "--tenant", "globex"])) == []

    status = json.loads(_ok(["kb", "status", "--tenant", "acme", "--json"]))
    # The upload, and the day's audit summary (the upload is audited) of the tenant's scope.
    assert status["tenant_chunks"] == {"upload": 1, "audit": 1}
    assert status["platform_chunks"]["doc"] == docs["chunks"]
    assert status["documents"] == 1
    assert runner.invoke(app, ["kb", "search", "x", "--kind", "memo"]).exit_code == 1
