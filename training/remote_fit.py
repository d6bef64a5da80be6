"""Fit a torch family on another machine: a GPU box that has PyTorch but not the platform.

The fit is the only part of a `minilm` training that needs the GPU; export, evaluation and the
MLflow run need the platform. So the training is cut at the loop's final checkpoint:

1. here, `write_bundle` writes the training's exact rows and config (`fit.parquet`, `fit.json`);
2. there, `python -m sentimentops.training.remote_fit BUNDLE` runs the family's own fit, with
   checkpoints in BUNDLE/checkpoint/ (a rerun resumes). It needs only torch, transformers,
   tokenizers, onnxruntime, pandas with pyarrow, pydantic and the base model's package;
3. here, `adopt_checkpoint` checks the final checkpoint belongs to this training and puts it
   where `train(resume=True)` looks; that training then skips the loop and exports, evaluates
   and registers as always, recording the machine and seconds the loop took there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.training.config import TrainingConfig, config_hash, load_config_data
from sentimentops.training.families import FitContext, FitData, get_family
from sentimentops.training.families.torch_loop import CHECKPOINT_FILE, LoopResult
from sentimentops.training.families.trained import TrainedTorchClassifier
from sentimentops.training.reference_data import LABEL_NAMES, file_sha256

if TYPE_CHECKING:
    from sentimentops.core.settings import Settings

BUNDLE_FORMAT = "sentimentops.fit_bundle/v1"
MANIFEST = "fit.json"
ROWS = "fit.parquet"
CHECKPOINT_DIR = "checkpoint"


def _training(
    settings: Settings, task: str, family: str, max_train_samples: int | None
) -> tuple[TrainingConfig, pd.DataFrame, Path]:
    """The config, training rows and checkpoint folder `service.train` would use here."""
    # Imported here: service needs mlflow, which the GPU side of this module does without.
    from sentimentops.training import service

    config = service.resolve_config(task, family, None)
    rows = service.select_training_rows(
        service.load_data(config, settings.datasets_dir), config, max_train_samples
    )
    return config, rows, service.checkpoint_dir(settings, config, rows)


def write_bundle(
    settings: Settings,
    *,
    task: str,
    family: str,
    out_dir: Path,
    max_train_samples: int | None = None,
) -> Path:
    """Write the rows and config that `service.train` would fit on to `out_dir`."""
    if family not in {"minilm", "notebook"}:
        raise InvalidInput(f"the {family} family trains in seconds here: nothing to fit remotely")
    config, rows, checkpoints = _training(settings, task, family, max_train_samples)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "text": rows["text"].tolist(),
            "label": rows["label"].to_numpy(),
            "context": rows["context"].tolist() if "context" in rows.columns else None,
        }
    )
    frame.to_parquet(out_dir / ROWS, index=False, compression="zstd")
    manifest = {
        "format": BUNDLE_FORMAT,
        "task": task,
        "family": family,
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "rows": len(frame),
        "rows_sha256": file_sha256(out_dir / ROWS),
        "max_train_samples": max_train_samples,
        "checkpoint_key": checkpoints.name,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out_dir


def _manifest(bundle: Path) -> dict[str, Any]:
    path = bundle / MANIFEST
    if not path.is_file():
        raise NotFound(f"{bundle} is not a fit bundle: {MANIFEST} is missing")
    manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise InvalidInput(f"{path}: format {manifest.get('format')!r}, expected {BUNDLE_FORMAT}")
    return manifest


def run_bundle(bundle: Path, context: FitContext | None = None) -> LoopResult:
    """Fit the bundle's family on its rows; the loop's final checkpoint is the result."""
    manifest = _manifest(bundle)
    if file_sha256(bundle / ROWS) != manifest["rows_sha256"]:
        raise InvalidInput(f"{bundle / ROWS} does not match its sha256 in {MANIFEST}")
    config = load_config_data(manifest["config"], source=str(bundle / MANIFEST))
    if config_hash(config) != manifest["config_hash"]:
        # Another pydantic or another checkout would fill defaults differently: the adopted
        # checkpoint would then not belong to the config recorded with it.
        raise InvalidInput(f"{bundle / MANIFEST}: the config reads differently on this machine")
    frame = pd.read_parquet(bundle / ROWS)
    given = context or FitContext()
    model = get_family(manifest["family"]).fit(
        config,
        FitData(
            train_texts=frame["text"].tolist(),
            train_targets=frame["label"].to_numpy(dtype=np.int64),
            validation_texts=[],  # the fit does not look at it; export does, at home
            validation_targets=np.zeros(0, dtype=np.int64),
            labels=tuple(LABEL_NAMES[manifest["task"]]),
            train_contexts=[c if isinstance(c, str) else None for c in frame["context"]]
            if "context" in frame.columns
            else None,
        ),
        FitContext(
            on_step=given.on_step,
            on_progress=given.on_progress,
            checkpoint_dir=bundle / CHECKPOINT_DIR,
            resume=True,
        ),
    )
    if not isinstance(model, TrainedTorchClassifier):
        raise InvalidInput(f"the {manifest['family']} family has no training loop to run here")
    return model.loop


def adopt_checkpoint(
    settings: Settings,
    bundle: Path,
    *,
    max_train_samples: int | None,
    checkpoint: Path | None = None,
) -> Path:
    """Put the bundle's final checkpoint where the training that follows (with the same
    `max_train_samples`) resumes from, after checking that the fit finished and that this
    checkout would train on the same rows and config."""
    manifest = _manifest(bundle)
    if manifest["max_train_samples"] != max_train_samples:
        raise InvalidInput(
            f"{bundle} was fitted with max_train_samples={manifest['max_train_samples']}, "
            f"not {max_train_samples}"
        )
    source = checkpoint or bundle / CHECKPOINT_DIR / CHECKPOINT_FILE
    if not source.is_file():
        raise NotFound(f"no checkpoint at {source}")
    _config, _rows, target = _training(
        settings, manifest["task"], manifest["family"], max_train_samples
    )
    if target.name != manifest["checkpoint_key"]:
        raise InvalidInput(
            f"{bundle} was written for other rows or another config ({manifest['checkpoint_key']}"
            f", this checkout trains {target.name}): write the bundle again and refit"
        )
    state = torch.load(source, map_location="cpu", weights_only=True)
    if state.get("step") != state.get("total_steps"):
        raise InvalidInput(
            f"{source} stopped at step {state.get('step')} of {state.get('total_steps')}: "
            "run the bundle again there to finish it"
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / CHECKPOINT_FILE)
    return target / CHECKPOINT_FILE


def _print_progress(description: str, done: int, total: int | None) -> None:
    # Plain lines, one per percent: the GPU box's output is a log, not a terminal.
    if total and (done == total or done % max(1, total // 100) == 0):
        print(f"{description}: {done}/{total}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sentimentops.training.remote_fit",
        description="Run a fit bundle (written by benchmarks/minilm_gpu.py --fit-bundle) on "
        "this machine; the final checkpoint lands in BUNDLE/checkpoint/.",
    )
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args(argv)
    try:
        context = FitContext(on_step=lambda m: print(m, flush=True), on_progress=_print_progress)
        loop = run_bundle(args.bundle, context)
    except (InvalidInput, NotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    checkpoint = args.bundle / CHECKPOINT_DIR / CHECKPOINT_FILE
    digest = file_sha256(checkpoint)
    print(
        f"fit done on {loop.trained_on}: {loop.steps} steps in {loop.seconds:.1f} s, final loss "
        f"{loop.final_loss:.4f}; {checkpoint} sha256 {digest}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
