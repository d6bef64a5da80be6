"""`sentimentops labeling …` in-process with Typer's runner, against a real database and store:
a project over an ingested dataset, two annotators, a reviewer, agreement and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app

runner = CliRunner()

REVIEWS = [
    ("a warm and clever film", 1),
    ("two hours I will never get back", 0),
    ("the cast carries a thin plot", 1),
    ("loud, long and empty", 0),
]


@pytest.fixture
def env(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("SENTIMENTOPS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def cli_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json"))


def test_label_with_two_annotators_review_and_export(env: Path) -> None:
    cli("admin", "create-tenant", "acme")
    data = env / "reviews.csv"
    data.write_text("text,label\n" + "".join(f'"{t}",{label}\n' for t, label in REVIEWS))
    ingested = cli(
        "data", "ingest", str(data), "--task", "sentiment", "--name", "reviews",
        "--text-col", "text", "--label-col", "label",
    )  # fmt: skip
    version = ingested.split("created version ", 1)[1].split()[0]
    gold = env / "gold.jsonl"
    gold.write_text(json.dumps({"text": "a masterpiece", "label": "positive"}) + "\n")

    denied = runner.invoke(
        app,
        ["labeling", "projects", "create", "--name", "x", "--task", "sentiment",
         "--annotator", "alice", "--dataset", version, "--role", "annotator"],
    )  # fmt: skip
    assert denied.exit_code == 1
    assert "requires one of the roles" in denied.output
    created = cli_json(
        "labeling", "projects", "create", "--name", "Relabel reviews", "--task", "sentiment",
        "--annotator", "alice", "--annotator", "bob", "--overlap", "2", "--order", "source",
        "--dataset", version[:10], "--gold", str(gold),
    )  # fmt: skip
    project = created["project"]["id"]
    assert created["project"]["item_count"] == 5
    assert project in cli("labeling", "projects", "list")
    assert "Relabel reviews" in cli("labeling", "projects", "show", project[:8])
    updated = cli_json("labeling", "projects", "update", project, "--order", "uncertainty")
    assert updated["project"]["order"] == "uncertainty"
    # Back to the source's order, which the answers below follow.
    cli("labeling", "projects", "update", project, "--order", "source")

    # alice and bob agree on three of the four texts and split on the second; alice knows the
    # gold item, bob does not.
    texts = [t for t, _ in REVIEWS] + ["a masterpiece"]
    alice_says = ["positive", "positive", "positive", "negative", "positive"]
    bob_says = ["positive", "negative", "positive", "negative", "negative"]
    answers = {
        "alice": dict(zip(texts, alice_says, strict=True)),
        "bob": dict(zip(texts, bob_says, strict=True)),
    }
    for who, labels in answers.items():
        for _ in texts:
            served = cli_json("labeling", "next", project, "--as", who)
            assert served["state"] == "served"
            item, label = served["item"]["id"], labels[served["item"]["text"]]
            cli("labeling", "annotate", project, item[:12], label, "--as", who, "--time-ms", "900")
        assert "nothing left" in cli("labeling", "next", project, "--as", who)

    # κ on the five shared items: p_o = 3/5; alice pos 4 neg 1, bob pos 2 neg 3;
    # p_e = (4·2 + 1·3)/25 = 11/25; κ = (3/5 − 11/25)/(1 − 11/25) = (4/25)/(14/25) = 2/7.
    report = cli_json("labeling", "agreement", project)
    assert report["cohen_kappa"] == pytest.approx(2 / 7)
    per = {a["annotator"]: a for a in report["per_annotator"]}
    assert (per["alice"]["gold_accuracy"], per["bob"]["gold_accuracy"]) == (1.0, 0.0)
    assert "Krippendorff's α" in cli("labeling", "agreement", project)

    shown = cli_json("labeling", "projects", "show", project)
    assert (shown["progress"]["resolved"], shown["progress"]["conflict"]) == (3, 1)
    undone = cli_json("labeling", "undo", project, "--as", "bob")  # his last: the fifth item
    assert undone["item"]["text"] == REVIEWS[3][0]
    assert cli_json("labeling", "projects", "show", project)["progress"]["resolved"] == 2
    cli("labeling", "annotate", project, undone["item"]["id"], "negative", "--as", "bob")

    conflicts = cli_json("labeling", "items", project, "--status", "conflict")
    [second] = conflicts["items"]
    assert second["text"] == REVIEWS[1][0]
    assert [(a["annotator"], a["label"]) for a in second["annotations"]] == [
        ("alice", "positive"),
        ("bob", "negative"),
    ]
    assert "5 of 5 items" in cli("labeling", "items", project)
    own = runner.invoke(
        app,
        ["labeling", "resolve", project, second["id"], "positive", "--as", "bob",
         "--role", "approver"],
    )  # fmt: skip
    assert own.exit_code == 1
    assert "another reviewer" in own.output
    # The reviewer sides with alice: the source said negative, so one label changes.
    cli("labeling", "resolve", project, second["id"][:10], "positive", "--as", "rev")

    exported = cli_json("labeling", "export", project, "--name", "reviews-v2")
    assert exported["created"] is True
    assert exported["version"]["parent_ids"] == [version]
    assert exported["version"]["transform_params"]["annotators"] == ["alice", "bob"]
    assert exported["version"]["transform_params"]["reviewers"] == ["human:rev"]
    assert (exported["rows"], exported["relabeled"]) == (4, 1)
    lineage = cli("data", "lineage", exported["version"]["id"])
    assert "relabel" in lineage
    assert "already stored as" in cli("labeling", "export", project, "--name", "reviews-v2")
