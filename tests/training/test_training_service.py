"""`train` end to end on a real MLflow store (SQLite in a temporary directory)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sentimentops.app.cli.main import app
from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training import service


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="development", data_dir=tmp_path / "data")


def test_train_registers_a_candidate(settings: Settings, tmp_path: Path) -> None:
    steps: list[str] = []
    result = service.train(
        settings=settings,
        task="sarcasm",
        family="tfidf_lr",
        max_train_samples=1500,
        on_step=steps.append,
    )
    assert result.model_name == "sarcasm"
    assert result.version == "1"
    # The shipped config is the general mixture: 1,500 texts spread over every sarcasm domain
    # learn a little of each (about 0.55-0.72 accuracy per domain), not the headlines alone.
    assert 0.5 < result.metrics["test_accuracy"] <= 1.0
    domains = result.report["domains"]
    assert {"headlines", "figlang_reddit", "figlang_tweets"} <= set(domains)
    trained = [d for d in domains.values() if d["in_training"]]
    assert len(trained) < len(domains)  # eval-only domains are reported, never trained on
    assert np.mean([d["roc_auc"] for d in trained]) > 0.55
    assert result.metrics["worst_domain_accuracy"] == min(d["accuracy"] for d in domains.values())
    assert result.metrics["domain_headlines_accuracy"] == domains["headlines"]["accuracy"]
    assert steps[-1].startswith("registered sarcasm version 1")

    client = service.model_registry(settings).client
    version = client.get_model_version_by_alias("sarcasm", CANDIDATE_ALIAS)
    assert str(version.version) == "1"
    assert version.run_id == result.run_id
    assert set(client.get_registered_model("sarcasm").aliases) == {"candidate"}
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test_accuracy"] == result.metrics["test_accuracy"]
    assert run.data.params["classifier.C"] == "8.0"
    tags = run.data.tags
    assert len(tags["sentimentops.config_hash"]) == 64
    assert len(tags["sentimentops.dataset_hash"]) == 64
    assert (
        "sarcasm_headlines/Sarcasm_Headlines_Dataset_v1.json.zip=0c4e1d"
        in (tags["sentimentops.dataset_files"])
    )
    assert tags["sentimentops.git_commit"]
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "evaluation")}
    assert artifacts == {"evaluation/report.json", "evaluation/confusion_matrix.png"}
    # Artifacts live under data_dir, not in ./mlruns of the working directory.
    assert (settings.mlflow_dir / "artifacts").is_dir()

    local = service.download_candidate(settings, "sarcasm", tmp_path / "served")
    runtime = LinearModel.load(local)
    probabilities = runtime.predict_proba(["area man wins lottery", "senate passes bill"])
    assert probabilities.shape == (2, 2)
    manifest = json.loads((local / "model.json").read_text())
    assert manifest["format"] == "sentimentops.tfidf_lr/v1"

    # A second training adds version 2 and moves the alias; nothing else is touched.
    again = service.train(
        settings=settings, task="sarcasm", family="tfidf_lr", max_train_samples=1500
    )
    assert again.version == "2"
    assert again.metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    assert str(client.get_model_version_by_alias("sarcasm", "candidate").version) == "2"


def _registry_state(settings: Settings) -> list[str]:
    if not settings.mlflow_dir.exists():
        return []
    client = service.model_registry(settings).client
    return [m.name for m in client.search_registered_models()]


@pytest.mark.parametrize(
    ("task", "family", "config_text", "error"),
    [
        ("happiness", "tfidf_lr", None, InvalidInput),
        ("sentiment", "bert", None, InvalidInput),
        ("sentiment", "tfidf_lr", "family = [", InvalidInput),
        (
            "sentiment",
            "tfidf_lr",
            'family = "tfidf_lr"\ntask = "sentiment"\nseed = 1\n',
            InvalidInput,
        ),
        ("sentiment", "tfidf_lr", 'family = "tfidf_lr"\ntask = "sarcasm"\n', InvalidInput),
        ("sentiment", "tfidf_lr", "", InvalidInput),
    ],
)
def test_bad_input_is_refused_and_leaves_the_registry_unchanged(
    settings: Settings,
    tmp_path: Path,
    task: str,
    family: str,
    config_text: str | None,
    error: type[Exception],
) -> None:
    config_path = None
    if config_text is not None:
        config_path = tmp_path / "bad.toml"
        config_path.write_text(config_text)
    before = _registry_state(settings)
    with pytest.raises(error):
        service.train(settings=settings, task=task, family=family, config_path=config_path)
    assert _registry_state(settings) == before


def test_missing_config_file_is_not_found(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        service.resolve_config("sentiment", "tfidf_lr", tmp_path / "nope.toml")


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"SENTIMENTOPS_DATA_DIR": str(tmp_path)}
    result = runner.invoke(app, ["train", "--task", "happiness"], env=env)
    assert result.exit_code == 1
    assert "unknown task 'happiness'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "mlflow").exists()


def test_the_same_config_on_the_same_data_reproduces_its_metrics(tmp_path: Path) -> None:
    """The bar: to 0.1 point for the deterministic families; tfidf_lr reproduces exactly."""
    runs = [
        service.train(
            settings=Settings(env="development", data_dir=tmp_path / f"data{i}"),
            task="sarcasm",
            family="tfidf_lr",
            max_train_samples=1500,
            max_eval_samples=500,
        )
        for i in range(2)
    ]
    keys = ("test_accuracy", "test_macro_f1", "test_roc_auc", "test_ece")
    assert [runs[0].metrics[k] for k in keys] == [runs[1].metrics[k] for k in keys]
