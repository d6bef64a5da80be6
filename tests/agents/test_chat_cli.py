"""`sentimentops chat` in-process with Typer's runner, with no platform running: the planner's
knowledge base searches open the local knowledge base in the chat's own process (as
`sentimentops kb` does), and a how-to question is answered from the indexed runbook."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.knowledge_base.embedding import ENCODER_FILE

runner = CliRunner()


@pytest.fixture
def env(
    fresh_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoder_file: Path,
    opa_url: str,
) -> Path:
    data = tmp_path / "data"
    (data / "kb").mkdir(parents=True)
    # The session's export, linked in: the data directory then has a current encoder.
    os.link(encoder_file, data / "kb" / ENCODER_FILE)
    os.link(encoder_file.with_suffix(".json"), data / "kb" / encoder_file.with_suffix(".json").name)
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(data))
    monkeypatch.setenv("SENTIMENTOPS_OPA_URL", opa_url)
    # The CLI points the root logger at the runner's stream, closed after the test: the
    # original handlers and level come back for the tests after this one.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", root.handlers[:])
    monkeypatch.setattr(root, "level", root.level)
    return data


def _ok(args: list[str]) -> str:
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    return done.stdout


def test_chat_answers_a_how_to_question_from_the_local_knowledge_base(env: Path) -> None:
    _ok(["kb", "reindex", "--scope", "docs", "--json"])
    _ok(["admin", "create-tenant", "acme"])

    asked = ["chat", "--tenant", "acme", "--as", "alice", "--json"]
    out = _ok([*asked, "-m", "how do I roll back a model?"])
    events = [json.loads(line) for line in out.splitlines()]

    kinds = [event["type"] for event in events]
    assert kinds == ["tool_call", "tool_result", "retrieval", "answer"], kinds
    assert events[0]["tool"] == "search_kb"
    assert events[2]["sources"][0] == "docs/runbooks.md › Rolling back a model"
    assert '1. docs/runbooks.md › Rolling back a model: "' in events[3]["text"]
