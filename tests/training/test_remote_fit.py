"""A fit run from a bundle (as on a GPU machine without the platform) is adopted here: the
training that follows skips its loop, keeps the fitted weights and records where they were fitted;
a bundle or checkpoint that does not belong to the training is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.settings import Settings
from sentimentops.inference.artifacts import load_scorer
from sentimentops.training import remote_fit, service
from sentimentops.training.families.torch_loop import CHECKPOINT_FILE

ROWS = 160


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="development", data_dir=tmp_path / "data")


@pytest.fixture
def bundle(settings: Settings, tmp_path: Path) -> Path:
    return remote_fit.write_bundle(
        settings,
        task="sarcasm",
        family="notebook",
        out_dir=tmp_path / "bundle",
        max_train_samples=ROWS,
    )


def test_a_bundle_fitted_elsewhere_is_adopted_and_not_trained_again(
    settings: Settings, bundle: Path, tmp_path: Path
) -> None:
    manifest = json.loads((bundle / "fit.json").read_text("utf-8"))
    assert manifest["rows"] == ROWS
    assert len(pd.read_parquet(bundle / "fit.parquet")) == ROWS

    assert remote_fit.main([str(bundle)]) == 0  # what the GPU machine runs
    checkpoint = bundle / "checkpoint" / CHECKPOINT_FILE
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert state["step"] == state["total_steps"] > 0
    assert "optimizer" not in state  # the final checkpoint is weights only
    assert state["trained_on"] == "cpu"

    adopted = remote_fit.adopt_checkpoint(settings, bundle, max_train_samples=ROWS)
    assert adopted.parent.name == manifest["checkpoint_key"]
    steps: list[str] = []
    result = service.train(
        settings=settings,
        task="sarcasm",
        family="notebook",
        max_train_samples=ROWS,
        max_eval_samples=40,
        resume=True,
        on_step=steps.append,
    )
    total = state["total_steps"]
    assert f"resuming from the checkpoint at step {total:,} of {total:,}" in steps
    assert result.metrics["train_resumed_at_step"] == result.metrics["train_steps"] == total
    # The loop's time is the bundle run's, not this process's few milliseconds of loading.
    assert result.metrics["train_loop_seconds"] >= state["seconds"] > 0

    # The registered model is the bundle's weights: it scores as the adopted module does.
    served = service.download_candidate(settings, "sarcasm", tmp_path / "served")
    assert json.loads((served / "model.json").read_text("utf-8"))["trained_on"] == "cpu"
    assert load_scorer(served).predict_proba(["a headline"]).shape == (1, 2)


def test_a_bundle_for_other_rows_or_an_unfinished_fit_is_refused(
    settings: Settings, bundle: Path
) -> None:
    with pytest.raises(NotFound, match="no checkpoint"):
        remote_fit.adopt_checkpoint(settings, bundle, max_train_samples=ROWS)
    unfinished = bundle / "partial.pt"
    torch.save({"step": 3, "total_steps": 10, "model": {}}, unfinished)
    with pytest.raises(InvalidInput, match="stopped at step 3 of 10"):
        remote_fit.adopt_checkpoint(settings, bundle, max_train_samples=ROWS, checkpoint=unfinished)
    with pytest.raises(InvalidInput, match="max_train_samples=160, not 200"):
        remote_fit.adopt_checkpoint(settings, bundle, max_train_samples=200)

    manifest = json.loads((bundle / "fit.json").read_text("utf-8"))
    manifest["checkpoint_key"] = "notebook-sarcasm-0000000000000000"
    (bundle / "fit.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InvalidInput, match="other rows or another config"):
        remote_fit.adopt_checkpoint(settings, bundle, max_train_samples=ROWS, checkpoint=unfinished)


def test_a_tampered_bundle_does_not_run(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_parquet(bundle / "fit.parquet")
    frame.loc[0, "label"] = 1 - frame.loc[0, "label"]
    frame.to_parquet(bundle / "fit.parquet", index=False)
    assert remote_fit.main([str(bundle)]) == 2
    assert "does not match its sha256" in capsys.readouterr().err
    assert not (bundle / "checkpoint").exists()
    assert remote_fit.main([str(bundle.parent / "nowhere")]) == 2


def test_only_families_with_a_training_loop_make_bundles(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="trains in seconds here"):
        remote_fit.write_bundle(settings, task="sarcasm", family="tfidf_lr", out_dir=tmp_path)
