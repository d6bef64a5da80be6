"""Train the `minilm` models on both tasks, export int8 ONNX, evaluate, and write a model pack
(serving artifacts + model cards) that can be committed and imported by `up`.

One command on a GPU machine (full data, the configs' epochs):

    .venv/bin/python benchmarks/minilm_gpu.py

Where the GPU machine cannot hold the platform (no MLflow, say), only the fit runs there
(training/remote_fit.py): write the bundles here, run them there, and finish here:

    .venv/bin/python benchmarks/minilm_gpu.py --task sentiment --fit-bundle /tmp/bundles
    python -m sentimentops.training.remote_fit /tmp/bundles/sentiment        # on the GPU box
    .venv/bin/python benchmarks/minilm_gpu.py --task sentiment --adopt /tmp/bundles

A CPU smoke test of the same path (minutes):

    .venv/bin/python benchmarks/minilm_gpu.py --max-train-samples 64 --max-eval-samples 200 \\
        --out /tmp/minilm-pack --results /tmp/minilm_gpu.json

Per task it calls training.service.train (fit on CUDA when present, ONNX export with the ≥ 99.5 %
agreement check, full evaluation of the served model (int8 when it agrees), one MLflow run in a
private store under --data-dir), then scores the test split with the variant that is not served
too (the int8-vs-fp32 bar), and copies the served artifact with a model card into
--out/<task>/. Prints a table and writes --results (default benchmarks/results/minilm_gpu.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.packs import PACK_FORMAT
from sentimentops.inference.runtime.base import proba_by_length
from sentimentops.training import remote_fit, service
from sentimentops.training.config import config_hash, default_config_path, load_config
from sentimentops.training.evaluation import classification_metrics, contexts_of

console = Console()


def _score(
    directory: Path,
    texts: list[str],
    batch_size: int = 64,
    contexts: list[str | None] | None = None,
) -> np.ndarray:
    scorer = load_scorer(directory, threads=os.cpu_count())
    return proba_by_length(scorer, texts, contexts, batch_size)


def run_task(task: str, args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    started = time.perf_counter()
    if args.adopt is not None:
        adopted = remote_fit.adopt_checkpoint(
            settings, args.adopt / task, max_train_samples=args.max_train_samples
        )
        console.print(f"[dim]{task} ·[/] adopted the fit's final checkpoint → {adopted}")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task(task, total=None)

        def on_step(message: str) -> None:
            console.print(f"[dim]{task} ·[/] {message}")

        def on_progress(description: str, done: int, total: int | None) -> None:
            progress.update(bar, description=f"{task} {description}", completed=done, total=total)

        result = service.train(
            settings=settings,
            task=task,
            family="minilm",
            max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples,
            on_step=on_step,
            on_progress=on_progress,
            resume=args.resume or args.adopt is not None,
        )
    client = service.model_registry(settings).client
    run = client.get_run(result.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        served = service.download_candidate(settings, task, Path(tmp) / "served")
        artifacts = {a.path for a in client.list_artifacts(result.run_id)}
        served_int8 = result.metrics.get("export_served_int8") == 1.0
        # The variant that is not served: fp32 beside a served int8, or the rejected int8.
        other_name = "model_fp32" if served_int8 else "model_int8_rejected"
        config = load_config(default_config_path(task, "minilm"))
        data = service.load_data(config, settings.datasets_dir)
        test = data[data["split"] == "test"]
        if args.max_eval_samples is not None and args.max_eval_samples < len(test):
            test = test.sample(n=args.max_eval_samples, random_state=config.seed)
        targets = test["label"].to_numpy(dtype=np.int64)
        other_accuracy: float | None = None
        if (args.other_test or args.other_out is not None) and other_name in artifacts:
            other = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=result.run_id,
                    artifact_path=other_name,
                    dst_path=str(Path(tmp) / "other"),
                    tracking_uri=settings.resolved_mlflow_tracking_uri,
                )
            )
            if args.other_out is not None:
                # Kept for per-domain int8-vs-fp32 comparisons (benchmarks/general_pack.py).
                kept = args.other_out / task
                if kept.exists():
                    shutil.rmtree(kept)
                shutil.copytree(other, kept)
        if args.other_test and other_name in artifacts:
            console.print(f"[dim]{task} ·[/] scoring {len(test):,} test texts with {other_name}")
            scored = classification_metrics(
                _score(other, test["text"].tolist(), contexts=contexts_of(test)), targets, 2
            )
            other_accuracy = float(scored["accuracy"])
        destination = args.out / task
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(served, destination / "model")
    manifest = json.loads((destination / "model" / "model.json").read_text("utf-8"))
    metrics = result.metrics
    card = {
        "task": task,
        "family": "minilm",
        "base_model": manifest.get("base_model"),
        "quantization": manifest.get("quantization"),
        "labels": manifest["labels"],
        "seed": config.seed,
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "dataset_hash": run.data.tags.get("sentimentops.dataset_hash"),
        "dataset_files": run.data.tags.get("sentimentops.dataset_files"),
        "git_commit": run.data.tags.get("sentimentops.git_commit"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "max_train_samples": args.max_train_samples or "all",
        "max_eval_samples": args.max_eval_samples or "all",
        # Where the training loop ran: with --adopt, the GPU machine, not this one.
        "device": manifest.get("trained_on", "unknown"),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_seconds": metrics.get("train_loop_seconds", result.train_seconds),
        "total_seconds": time.perf_counter() - started,
        "metrics": {
            "test_accuracy": metrics.get("test_accuracy"),
            "test_macro_f1": metrics.get("test_macro_f1"),
            "test_roc_auc": metrics.get("test_roc_auc"),
            "test_ece": metrics.get("test_ece"),
            "served": "int8" if served_int8 else "fp32",
            "test_accuracy_int8_onnx": metrics["test_accuracy"] if served_int8 else other_accuracy,
            "test_accuracy_fp32_onnx": other_accuracy if served_int8 else metrics["test_accuracy"],
            **{
                k: v
                for k, v in metrics.items()
                if k.startswith(
                    (
                        "export_",
                        "ood_",
                        "flip_rate_",
                        "validation_",
                        "calibration_",
                        "domain_",
                        "worst_domain_",
                        "max_domain_",
                    )
                )
            },
        },
        "mlflow_run_id": result.run_id,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    int8, fp32 = (
        card["metrics"]["test_accuracy_int8_onnx"],
        card["metrics"]["test_accuracy_fp32_onnx"],
    )
    card["metrics"]["test_int8_minus_fp32_points"] = (
        None if int8 is None or fp32 is None else 100 * (int8 - fp32)
    )
    (destination / "card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    (destination / "MODEL_CARD.md").write_text(_markdown(card), encoding="utf-8")
    return card


def _markdown(card: dict[str, Any]) -> str:
    m = card["metrics"]
    lines = [
        f"# {card['task']} — minilm ({card['metrics']['served']})",
        "",
        f"Fine-tuned {card['base_model']} with mean pooling and a linear head; ONNX, served by",
        "`sentimentops.onnx_transformer/v1`. Numbers are measured, on the splits of",
        "training/reference_data.py.",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in m.items()),
        "",
        f"- seed {card['seed']}, config hash `{card['config_hash']}`",
        f"- dataset hash `{card['dataset_hash']}`; files {card['dataset_files']}",
        f"- git commit `{card['git_commit']}`; device {card['device']}",
        f"- trained on {card['max_train_samples']} texts, evaluated on {card['max_eval_samples']}",
        f"- command: `{card['command']}`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=["sentiment", "sarcasm"])
    parser.add_argument("--max-train-samples", type=int)
    parser.add_argument("--max-eval-samples", type=int)
    parser.add_argument("--resume", action="store_true", help="continue from checkpoints")
    parser.add_argument(
        "--fit-bundle",
        type=Path,
        metavar="DIR",
        help="only write each task's fit bundle to DIR/<task> (for a GPU machine without the "
        "platform: python -m sentimentops.training.remote_fit DIR/<task>) and stop",
    )
    parser.add_argument(
        "--adopt",
        type=Path,
        metavar="DIR",
        help="finish the fits run from DIR/<task> bundles: adopt their final checkpoints, then "
        "export, evaluate and write the pack here",
    )
    parser.add_argument(
        "--other-test",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score the test split with the variant not served (int8 or fp32): a second "
        "full pass, for the int8-vs-fp32 bar",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "model_packs" / "minilm")
    parser.add_argument(
        "--other-out",
        type=Path,
        metavar="DIR",
        help="also keep the variant that is not served (fp32 beside int8) in DIR/<task>",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "benchmarks" / ".work" / "minilm_gpu",
        help="private MLflow store and checkpoints for this run",
    )
    parser.add_argument(
        "--results", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "minilm_gpu.json"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(env="development", data_dir=args.data_dir)
    console.print(
        f"device: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only'}"
    )
    tasks = args.task or ["sarcasm", "sentiment"]
    if args.fit_bundle is not None:
        for task in tasks:
            bundle = remote_fit.write_bundle(
                settings,
                task=task,
                family="minilm",
                out_dir=args.fit_bundle / task,
                max_train_samples=args.max_train_samples,
            )
            console.print(f"{task}: python -m sentimentops.training.remote_fit {bundle}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cards = [run_task(task, args, settings) for task in tasks]
    # A pack keeps the tasks this run did not train (each trained by its own run).
    kept = [
        json.loads((args.out / task / "card.json").read_text("utf-8"))
        for task in ("sarcasm", "sentiment")
        if task not in tasks and (args.out / task / "card.json").is_file()
    ]
    pack = {
        "format": PACK_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": [
            {
                "task": c["task"],
                "family": "minilm",
                "path": f"{c['task']}/model",
                "card": f"{c['task']}/card.json",
                "test_accuracy": c["metrics"]["test_accuracy"],
            }
            for c in sorted([*kept, *cards], key=lambda c: str(c["task"]))
        ],
    }
    (args.out / "pack.json").write_text(json.dumps(pack, indent=2), encoding="utf-8")
    table = Table(title=f"minilm model pack → {args.out}")
    for column in (
        "task",
        "device",
        "train s",
        "served",
        "test acc (served)",
        "test acc int8",
        "test acc fp32",
        "int8 − fp32 (pt)",
        "agreement fp32",
        "agreement int8",
    ):
        table.add_column(column, justify="right")
    for c in cards:
        m = c["metrics"]
        table.add_row(
            c["task"],
            c["device"],
            f"{c['train_seconds']:.0f}",
            str(m["served"]),
            f"{m['test_accuracy']:.2%}",
            "—" if m["test_accuracy_int8_onnx"] is None else f"{m['test_accuracy_int8_onnx']:.2%}",
            "—" if m["test_accuracy_fp32_onnx"] is None else f"{m['test_accuracy_fp32_onnx']:.2%}",
            "—"
            if m["test_int8_minus_fp32_points"] is None
            else f"{m['test_int8_minus_fp32_points']:+.2f}",
            f"{m['export_agreement_fp32']:.2%}",
            f"{m.get('export_agreement_int8', float('nan')):.2%}",
        )
    console.print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps({"pack": str(args.out), "cards": cards}, indent=2), encoding="utf-8"
    )
    console.print(f"wrote {args.out / 'pack.json'} and {args.results}")


if __name__ == "__main__":
    main()
