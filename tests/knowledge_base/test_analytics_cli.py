"""`sentimentops kb similar|topics` in-process with Typer's runner, on a real database, the real
encoder and Qdrant local mode; and, while another process holds the local folder, in memory."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.identity.models import Tenant
from sentimentops.knowledge_base.analytics import ScoredTextIndex
from sentimentops.knowledge_base.embedding import ENCODER_FILE
from tests.knowledge_base.test_analytics import (
    DELAYED_FLIGHT,
    FLIGHT_DELAYS,
    OTHER_TEXTS,
    PARAPHRASE,
    RUDE_STAFF,
    log,
)

runner = CliRunner()


@pytest.fixture
def settings(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder_file: Path
) -> Settings:
    data = tmp_path / "data"
    (data / "kb").mkdir(parents=True)
    # The session's export, linked in: the data directory then has a current encoder.
    os.link(encoder_file, data / "kb" / ENCODER_FILE)
    os.link(encoder_file.with_suffix(".json"), data / "kb" / encoder_file.with_suffix(".json").name)
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(data))
    return Settings(_env_file=None)


def _ok(args: list[str]) -> str:
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    return done.stdout


def _json(args: list[str]) -> Any:
    return json.loads(_ok([*args, "--json"]))


def test_similar_and_topics_from_the_command_line(settings: Settings) -> None:
    _ok(["admin", "create-tenant", "acme"])
    sessions = db.make_session_factory(db.make_engine(settings.resolved_database_url))
    with sessions() as session:
        acme = session.execute(select(Tenant).where(Tenant.slug == "acme")).scalar_one()
    [delayed, *_others] = log(sessions, acme.id, [DELAYED_FLIGHT, *OTHER_TEXTS])

    refused = runner.invoke(app, ["kb", "similar", PARAPHRASE, "--tenant", "acme"])
    assert refused.exit_code == 1
    assert "not stored for tenant acme" in refused.output

    with db.transaction(sessions) as session:
        tenant = session.get(Tenant, acme.id)
        assert tenant is not None
        tenant.store_prediction_texts = True
    found = _json(["kb", "similar", PARAPHRASE, "--tenant", "acme", "--window", "7d"])
    assert found["results"][0]["prediction_id"] == delayed
    assert found["searched"] == 6
    shown = _ok(["kb", "similar", PARAPHRASE, "--limit", "1"])  # acme is the only tenant
    assert DELAYED_FLIGHT in shown
    assert f"#{delayed}" in shown

    log(sessions, acme.id, FLIGHT_DELAYS[1:] + RUDE_STAFF, ago=timedelta(hours=1))
    grouped = _json(
        ["kb", "topics", "--task", "sentiment", "--label", "negative", "--window", "1d"]
    )
    # The first theme also has DELAYED_FLIGHT, logged earlier; the other texts are a third group
    # or join the nearest one, so only the two planted themes' examples are checked.
    assert grouped["texts"] == 25
    rude_topics = [
        t for t in grouped["topics"] if {e["text"] for e in t["examples"]} <= set(RUDE_STAFF)
    ]
    assert len(rude_topics) == 1
    assert "rude" in rude_topics[0]["keywords"]

    # While another process holds the local folder, the command embeds in memory.
    held = ScoredTextIndex.open(settings)
    try:
        done = runner.invoke(app, ["kb", "similar", PARAPHRASE, "--json", "--window", "7d"])
    finally:
        held.close()
    assert done.exit_code == 0, done.output
    assert "embedding in memory" in done.stderr
    assert json.loads(done.stdout)["results"][0]["prediction_id"] == delayed

    wrong = runner.invoke(
        app, ["kb", "topics", "--task", "sentiment", "--label", "negative", "--window", "soon"]
    )
    assert wrong.exit_code == 1
    assert "--window takes a number" in wrong.output
    too_many = runner.invoke(app, ["kb", "similar", "x", "--limit", "51"])
    assert too_many.exit_code == 2
