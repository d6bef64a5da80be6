"""Model packs: import into a real MLflow store, first production models on a fresh install,
the card's metrics as the promotion gate's baseline, rollback to the pack's version."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from sentimentops.app import schema
from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.inference.packs import PACK_FORMAT, PackEntry
from sentimentops.tools import promotions
from sentimentops.tools.models import PromotionEvent
from sentimentops.training import service
from sentimentops.training.bootstrap import ensure_serving_models
from sentimentops.training.model_pack import card_metrics, import_pack
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register

CARD_METRICS = {
    "test_accuracy": 0.82,
    "test_macro_f1": 0.81,
    "domain_headlines_macro_f1": 0.86,
    "worst_domain_macro_f1": 0.6,
    "served": "fp32",  # not a metric: left out
}


def _pack(root: Path, *, escape: bool = False, metrics: dict[str, object] | None = None) -> Path:
    models = []
    for task in ("sentiment", "sarcasm"):
        make_onnx_artifact(root / task / "model", task=task)
        card = {"task": task, "seed": 1, **({"metrics": metrics} if metrics else {})}
        (root / task / "card.json").write_text(json.dumps(card))
        path = "../outside" if escape and task == "sarcasm" else f"{task}/model"
        models.append(
            {
                "task": task,
                "family": "minilm",
                "path": path,
                "card": f"{task}/card.json",
                "test_accuracy": 0.9,
            }
        )
    (root / "pack.json").write_text(json.dumps({"format": PACK_FORMAT, "models": models}))
    return root


def _settings(tmp_path: Path, pack: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", model_pack_dir=pack, _env_file=None)
    schema.upgrade(settings.resolved_database_url)
    return settings


def _first_models(settings: Settings, steps: list[str] | None = None) -> dict[str, str]:
    """What `up` does on a fresh install."""
    return ensure_serving_models(
        settings,
        promote=partial(promotions.promote_first_production, settings),
        on_step=(steps if steps is not None else []).append,
    )


def test_fresh_install_serves_the_pack_and_import_is_idempotent(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack"))
    steps: list[str] = []
    promoted = _first_models(settings, steps)
    assert promoted == {"sentiment": "1", "sarcasm": "1"}
    assert not any("training" in s for s in steps)  # nothing was trained
    client = service.model_registry(settings).client
    assert str(client.get_model_version_by_alias("sarcasm", "production").version) == "1"
    again = import_pack(settings, settings.model_pack_dir, tasks=["sentiment", "sarcasm"])
    assert [(m.version, m.newly_registered) for m in again] == [("1", False), ("1", False)]
    assert len(client.search_model_versions("name = 'sentiment'")) == 1


def test_the_first_production_promotion_is_recorded_and_audited(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack"))
    _first_models(settings)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    with sessions() as session:
        history = promotions.history(session, model_name="sarcasm", alias="production")
        assert [(e.action, e.version, e.previous_version, e.actor) for e in history] == [
            ("promote", "1", None, "system:bootstrap")
        ]
        audited = session.execute(
            select(AuditEvent.action, AuditEvent.resource).where(
                AuditEvent.actor == "system:bootstrap"
            )
        ).all()
    assert ("model.promote:production", "model/sarcasm") in audited


def test_rollback_after_a_promotion_returns_to_the_packs_version(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack"))
    assert _first_models(settings)["sarcasm"] == "1"
    uri = settings.resolved_mlflow_tracking_uri
    newer = register(uri, "sarcasm", make_onnx_artifact(tmp_path / "v2", task="sarcasm"), "x")
    registry = service.model_registry(settings)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    with transaction(sessions) as session:
        previous = promotions.promote(
            session,
            registry,
            model_name="sarcasm",
            version=newer,
            alias="production",
            actor="alice",
            tenant="acme",
        )
    assert previous == "1"
    with transaction(sessions) as session:
        moved = promotions.rollback(
            session,
            registry,
            model_name="sarcasm",
            alias="production",
            steps=1,
            actor="alice",
            tenant="acme",
        )
    assert moved == (newer, "1")
    found = registry.version_for_alias("sarcasm", "production")
    assert found is not None
    assert found.version == "1"


def test_a_history_that_starts_after_the_first_model_still_rolls_back_to_it() -> None:
    # Installs whose first production model was set before `up` recorded it: the first
    # recorded promotion names it as the version it replaced.
    first = PromotionEvent(action="promote", version="2", previous_version="1")
    assert promotions.lineage([first], "2") == ["1", "2"]


def test_the_packs_card_metrics_are_the_versions_metrics(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack", metrics=CARD_METRICS))
    [imported] = import_pack(settings, settings.model_pack_dir, tasks=["sarcasm"])
    registry = service.model_registry(settings)
    assert registry.version_metrics("sarcasm", imported.version) == {
        "test_accuracy": 0.82,  # the card's, not the manifest's 0.9
        "test_macro_f1": 0.81,
        "domain_headlines_macro_f1": 0.86,
        "worst_domain_macro_f1": 0.6,
    }


def test_an_earlier_import_without_metrics_gets_them_on_the_next_import(tmp_path: Path) -> None:
    bare = _pack(tmp_path / "pack")  # cards without metrics, as packs were imported before
    settings = _settings(tmp_path, bare)
    [imported] = import_pack(settings, bare, tasks=["sarcasm"])
    registry = service.model_registry(settings)
    assert registry.version_metrics("sarcasm", imported.version) == {"test_accuracy": 0.9}
    (bare / "sarcasm" / "card.json").write_text(json.dumps({"metrics": CARD_METRICS}))
    [again] = import_pack(settings, bare, tasks=["sarcasm"])  # same artifact: same version
    assert again == imported.__class__("sarcasm", imported.version, newly_registered=False)
    metrics = registry.version_metrics("sarcasm", imported.version)
    assert metrics["domain_headlines_macro_f1"] == 0.86
    assert metrics["test_accuracy"] == 0.9  # what was recorded stays recorded


@pytest.mark.parametrize("task", ["sarcasm", "sentiment"])
def test_the_committed_packs_cards_carry_what_the_gate_compares(task: str) -> None:
    pack = REPO_ROOT / "model_packs" / "minilm"
    entry = PackEntry(task=task, family="routed", path=f"{task}/model", card=f"{task}/card.json")
    metrics = card_metrics(pack / entry.card, entry)
    config = json.loads((REPO_ROOT / "policies/rego/sentimentops/config/data.json").read_text())
    gates = config["promotion_gates"]
    # Every domain the gate has a floor for, in every metric it compares per domain.
    wanted = {
        f"domain_{domain}_{metric}"
        for domain in gates["domain_floors"][task]
        for metric in gates["max_domain_regression"]
    }
    assert wanted <= metrics.keys()
    assert set(gates["worst_domain_floors"][task]) <= metrics.keys()


def test_pack_paths_cannot_leave_the_pack(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _pack(tmp_path / "pack", escape=True))
    with pytest.raises(InvalidInput, match="leaves the pack"):
        import_pack(settings, settings.model_pack_dir, tasks=["sarcasm"])


def test_broken_model_is_not_registered(tmp_path: Path) -> None:
    pack = _pack(tmp_path / "pack")
    (pack / "sentiment" / "model" / "model.onnx").write_bytes(b"not onnx")
    settings = _settings(tmp_path, pack)
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error type
        import_pack(settings, pack, tasks=["sentiment"])
    client = service.model_registry(settings).client
    assert client.search_model_versions("name = 'sentiment'") == []
