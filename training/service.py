"""Training as one service call: data → fit (the family named, see training/families/) →
export and check the serving artifact → evaluate it → one MLflow run → registered model version
with the alias `candidate`.

Everything that can fail on bad input (task, family, config, data) is checked before MLflow is
touched, so a refused training leaves the tracking store and the registry unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.settings import REPO_ROOT, Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, TASKS
from sentimentops.training.config import (
    FAMILIES,
    OverrideValue,
    TrainingConfig,
    apply_overrides,
    config_hash,
    default_config_path,
    load_config,
)
from sentimentops.training.domains import balanced_training_rows, domain_files, load_general
from sentimentops.training.evaluation import DOMAIN_METRICS, classification_metrics, evaluate
from sentimentops.training.families import FitContext, FitData, Progress, get_family
from sentimentops.training.reference_data import (
    LABEL_NAMES,
    file_sha256,
    frame_hash,
    load_task,
    source_files,
)

ARTIFACT_PATH = "model"
Step = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """What a training produced and where it is recorded."""

    run_id: str
    model_name: str
    version: str
    metrics: dict[str, float]
    train_seconds: float
    report: dict[str, Any]


@dataclass(frozen=True)
class OwnData:
    """Rows to train on instead of the config's reference data (a dataset version): canonical
    columns with a `split` column, and the tags that name where they came from."""

    frame: pd.DataFrame
    tags: dict[str, str]


def model_registry(settings: Settings) -> MlflowRegistry:
    """The model registry and tracking store that training writes (SQLite under data_dir by
    default, created on first use)."""
    if settings.mlflow_tracking_uri is None:
        settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return MlflowRegistry(settings.resolved_mlflow_tracking_uri)


def ensure_mlflow_store(settings: Settings) -> None:
    """Create (or upgrade) the tracking and registry store now. MLflow builds a new SQLite
    store's schema on first use, and a process killed halfway leaves one it cannot open again
    ("table … already exists"); so the worker does this at start, never inside a tool."""
    client = model_registry(settings).client
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)


def _experiment_id(client: MlflowClient, settings: Settings, name: str) -> str:
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    # With a SQLite store MLflow would put artifacts in ./mlruns of whatever the working
    # directory is; pin them under data_dir instead. A server decides for itself.
    location = (
        (settings.mlflow_dir / "artifacts").resolve().as_uri()
        if settings.mlflow_tracking_uri is None
        else None
    )
    return str(client.create_experiment(name, artifact_location=location))


def git_commit() -> str:
    """HEAD's commit (with "-dirty" when the tree has changes), or "unknown" outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def resolve_config(task: str, family: str, config_path: Path | None) -> TrainingConfig:
    """Validate task and family and load the config; raise InvalidInput on any mismatch."""
    if task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if family not in FAMILIES:
        raise InvalidInput(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    config = load_config(config_path or default_config_path(task, family))
    if config.task != task or config.family != family:
        raise InvalidInput(
            f"config is for {config.family}/{config.task}, not the requested {family}/{task}"
        )
    return config


def _flat_params(config: TrainingConfig) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, item in enumerate(value):
                walk(f"{prefix}.{i}", item)
        else:
            flat[prefix] = str(value)

    walk("", config.model_dump(mode="json"))
    return flat


def load_data(config: TrainingConfig, datasets_dir: Path) -> pd.DataFrame:
    """The frame a config trains and is evaluated on: its task's reference source, or every
    domain of the task (with `domain` and `context` columns) for the general mixture."""
    if config.data.mixture == "general":
        return load_general(config.task, datasets_dir)
    if config.data.mixture == "multilingual":
        from sentimentops.training.multilingual import load_multilingual

        return load_multilingual(config.task, datasets_dir)
    return load_task(config.task, datasets_dir)


def data_files(config: TrainingConfig, datasets_dir: Path) -> list[Path]:
    """The bundled files `load_data` reads (lineage)."""
    if config.data.mixture == "general":
        return domain_files(config.task, datasets_dir)
    if config.data.mixture == "multilingual":
        from sentimentops.training.multilingual import multilingual_files

        return multilingual_files(datasets_dir)
    return source_files(config.task, datasets_dir)


def select_training_rows(
    data: pd.DataFrame, config: TrainingConfig, max_train_samples: int | None
) -> pd.DataFrame:
    if "domain" in data.columns:
        train = balanced_training_rows(
            data,
            splits=config.fit_splits,
            max_per_domain=config.data.max_train_per_domain,
            seed=config.seed,
        )
    else:
        train = data[data["split"].isin(config.fit_splits)]
    if max_train_samples is not None:
        if max_train_samples < 2:
            raise InvalidInput("--max-train-samples must be at least 2")
        if max_train_samples < len(train):
            train = train.sample(n=max_train_samples, random_state=config.seed)
    return train


def own_rows(
    own: OwnData, reference: pd.DataFrame, config: TrainingConfig, max_train_samples: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """(train, validation, test, where the test rows come from) for training on `own` rows:
    its fit splits train; its validation and test splits are used when it has them, else the
    reference data's, so that a labelled export without a test split is still measured."""
    if "split" not in own.frame.columns:
        raise InvalidInput("the dataset version has no splits: split it before training on it")
    frame = own.frame
    train = frame[frame["split"].isin(config.fit_splits)]
    if len(train) < 2 or train["label"].nunique() < 2:
        raise InvalidInput(
            f"the dataset version's {'+'.join(config.fit_splits)} split needs at least two rows "
            "of two labels or more"
        )
    if max_train_samples is not None and max_train_samples < len(train):
        train = train.sample(n=max_train_samples, random_state=config.seed)

    def split_of(name: str) -> tuple[pd.DataFrame, str]:
        mine = frame[frame["split"] == name]
        if len(mine):
            return mine, "dataset_version"
        return reference[reference["split"] == name], "reference"

    validation, _ = split_of("validation")
    test, test_source = split_of("test")
    return train, validation, test, test_source


def checkpoint_dir(settings: Settings, config: TrainingConfig, train_rows: pd.DataFrame) -> Path:
    """Where a training's checkpoints go: one folder per (config, training rows), so that a
    resumed run never continues another run's weights."""
    key = hashlib.sha256(f"{config_hash(config)}:{frame_hash(train_rows)}".encode()).hexdigest()
    return settings.data_dir / "checkpoints" / f"{config.family}-{config.task}-{key[:16]}"


def train(
    *,
    settings: Settings,
    task: str,
    family: str,
    config_path: Path | None = None,
    max_train_samples: int | None = None,
    on_step: Step | None = None,
    on_progress: Progress | None = None,
    resume: bool = False,
    max_eval_samples: int | None = None,
    version_tags: dict[str, str] | None = None,
    config_overrides: dict[str, OverrideValue] | None = None,
    own_data: OwnData | None = None,
) -> TrainResult:
    """Train, evaluate, log one MLflow run and register a version with alias `candidate`.

    `resume` continues from this training's newest checkpoint (families that checkpoint);
    `max_eval_samples` evaluates on seeded samples of the test and validation splits (smoke
    runs; tagged); `version_tags` are set on the new version as it is created (the train_model
    tool's idempotency key, so a retry finds it); `config_overrides` change settings of the
    loaded config (training/config.py apply_overrides; the run's params show the result);
    `own_data` trains on those rows instead of the reference data (own_rows says which splits
    are used; the run's tags name the rows' origin and where the test rows came from)."""
    step = on_step or (lambda _message: None)
    config = apply_overrides(resolve_config(task, family, config_path), config_overrides or {})
    implementation = get_family(family)
    labels = LABEL_NAMES[task]
    if max_eval_samples is not None and max_eval_samples < 2:
        raise InvalidInput("--max-eval-samples must be at least 2")

    step(f"loading the {config.data.mixture} data")
    data = load_data(config, settings.datasets_dir)
    source_tags: dict[str, str] = {}
    if own_data is None:
        train_rows = select_training_rows(data, config, max_train_samples)
        validation = data[data["split"] == "validation"]
        test = data[data["split"] == "test"]
    else:
        train_rows, validation, test, test_source = own_rows(
            own_data, data, config, max_train_samples
        )
        source_tags = {**own_data.tags, "sentimentops.test_data": test_source}
    if max_eval_samples is not None:
        # Smoke runs: the export check and the validation metrics shrink with the test set.
        test = _sample(test, max_eval_samples, config.seed)
        if "validation" not in config.fit_splits:
            validation = _sample(validation, max_eval_samples, config.seed)

    step(f"fitting {family} on {len(train_rows):,} texts")
    context = FitContext(
        on_step=step,
        on_progress=on_progress or (lambda _description, _done, _total: None),
        checkpoint_dir=checkpoint_dir(settings, config, train_rows),
        resume=resume,
    )
    started = time.perf_counter()
    model = implementation.fit(
        config,
        FitData(
            train_texts=train_rows["text"].tolist(),
            train_targets=train_rows["label"].to_numpy(dtype=np.int64),
            validation_texts=validation["text"].tolist(),
            validation_targets=validation["label"].to_numpy(dtype=np.int64),
            labels=tuple(labels),
            train_contexts=_contexts(train_rows),
            validation_contexts=_contexts(validation),
        ),
        context,
    )
    train_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="sentimentops-train-") as tmp:
        work = Path(tmp)
        step("exporting the serving artifact")
        export = model.export(
            work / ARTIFACT_PATH,
            validation_texts=validation["text"].tolist(),
            validation_targets=validation["label"].to_numpy(dtype=np.int64),
            work_dir=work / "export",
            on_step=step,
            validation_contexts=_contexts(validation),
        )
        step(f"evaluating on {len(test):,} test texts")
        report = evaluate(
            export.predict_proba,
            test,
            task=task,
            labels=labels,
            out_dir=work / "evaluation",
            datasets_dir=settings.datasets_dir,
            seed=config.seed,
            robustness_samples=min(1000, max_eval_samples or 1000),
            trained_domains=(
                sorted(train_rows["domain"].unique()) if "domain" in train_rows else None
            ),
        )
        if len(validation) and "validation" not in config.fit_splits:
            report["validation"] = classification_metrics(
                export.predict_proba(validation["text"].tolist(), _contexts(validation)),
                validation["label"].to_numpy(dtype=np.int64),
                len(labels),
            )
        if export.metrics:
            report["export_check"] = export.metrics
        metrics = {**_metrics(report, train_seconds, len(train_rows)), **export.metrics}
        step("recording the run in MLflow")
        tags = {
            "sentimentops.task": task,
            "sentimentops.family": family,
            "sentimentops.config_hash": config_hash(config),
            "sentimentops.dataset_hash": frame_hash(data if own_data is None else own_data.frame),
            "sentimentops.dataset_files": ",".join(
                f"{p.relative_to(settings.datasets_dir)}={file_sha256(p)}"
                for p in data_files(config, settings.datasets_dir)
            ),
            "sentimentops.git_commit": git_commit(),
            "sentimentops.max_train_samples": str(max_train_samples or "all"),
            "sentimentops.max_eval_samples": str(max_eval_samples or "all"),
            **source_tags,
        }
        if config_overrides:
            tags["sentimentops.config_overrides"] = json.dumps(config_overrides, sort_keys=True)
        config_file = work / "config.json"
        config_file.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        run_id, version = _record(
            settings,
            task,
            config,
            metrics,
            tags,
            work,
            config_file,
            train_seconds,
            export.extra_artifacts,
            version_tags or {},
        )
    if context.checkpoint_dir is not None:
        shutil.rmtree(context.checkpoint_dir, ignore_errors=True)  # recorded: no resume needed
    step(f"registered {task} version {version} as {CANDIDATE_ALIAS!r}")
    return TrainResult(run_id, task, version, metrics, train_seconds, report)


def _contexts(rows: pd.DataFrame) -> list[str | None] | None:
    if "context" not in rows.columns:
        return None
    return [c if isinstance(c, str) else None for c in rows["context"]]


def _sample(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most `n` rows, seeded; spread evenly over domains when the frame has them, so that a
    smoke run still measures every domain."""
    if n >= len(rows):
        return rows
    if "domain" not in rows.columns:
        return rows.sample(n=n, random_state=seed)
    names = rows["domain"].unique()
    per = max(1, n // len(names))
    parts = [g.sample(n=min(per, len(g)), random_state=seed) for _, g in rows.groupby("domain")]
    return pd.concat(parts)


def _metrics(report: dict[str, Any], train_seconds: float, n_train: int) -> dict[str, float]:
    metrics: dict[str, float] = {"train_seconds": train_seconds, "n_train": float(n_train)}
    for section in ("test", "validation"):
        for key in ("accuracy", "macro_f1", "roc_auc", "ece"):
            value = report.get(section, {}).get(key)
            if isinstance(value, float):
                metrics[f"{section}_{key}"] = value
    for name, rate in report["robustness_flip_rate"].items():
        metrics[f"flip_rate_{name}"] = rate
    for name, slice_metrics in report["slices"]["length_words"].items():
        # MLflow metric names allow no "+": the open-ended bucket "301+" becomes "301_plus".
        bucket = name.replace("+", "_plus")
        metrics[f"slice_len_{bucket}_accuracy"] = slice_metrics["accuracy"]
    for name, ood in report.get("out_of_domain", {}).items():
        metrics[f"ood_{name}_accuracy"] = ood["accuracy"]
    metrics.update(domain_metrics(report))
    return metrics


def domain_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The per-domain figures the promotion gates read: domain_<name>_<metric>, the worst
    domain's worst_domain_<metric> (lowest accuracy, macro-F1, ROC-AUC) and max_domain_ece."""
    metrics: dict[str, float] = {}
    for name, domain in report.get("domains", {}).items():
        for key in DOMAIN_METRICS:
            value = domain.get(key)
            if isinstance(value, float):
                metrics[f"domain_{name}_{key}"] = value
    for key, worst in report.get("worst_domain", {}).items():
        metrics["max_domain_ece" if key == "ece" else f"worst_domain_{key}"] = worst["value"]
    return metrics


def _record(
    settings: Settings,
    task: str,
    config: TrainingConfig,
    metrics: dict[str, float],
    tags: dict[str, str],
    work: Path,
    config_file: Path,
    train_seconds: float,
    extra_artifacts: dict[str, Path],
    version_tags: dict[str, str],
) -> tuple[str, str]:
    registry = model_registry(settings)
    client = registry.client  # experiment tracking: runs, params, metrics, artifacts
    experiment_id = _experiment_id(client, settings, task)
    run = client.create_run(experiment_id, run_name=f"{config.family}-{task}", tags=tags)
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in _flat_params(config).items()],
        )
        client.log_artifact(run_id, str(config_file))
        client.log_artifacts(run_id, str(work / "evaluation"), "evaluation")
        client.log_artifacts(run_id, str(work / ARTIFACT_PATH), ARTIFACT_PATH)
        for name, directory in extra_artifacts.items():
            client.log_artifacts(run_id, str(directory), name)
        version = registry.register(
            task,
            source=f"{run.info.artifact_uri}/{ARTIFACT_PATH}",
            run_id=run_id,
            tags={
                **{k: v for k, v in tags.items() if k != "sentimentops.dataset_files"},
                **version_tags,
            },
            description=f"{config.family}, trained in {train_seconds:.1f}s",
        )
        registry.set_alias(task, CANDIDATE_ALIAS, version.version)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id, str(version.version)


def download_candidate(settings: Settings, task: str, destination: Path) -> Path:
    """Fetch the serving artifact of the `candidate` alias into `destination`."""
    registry = model_registry(settings)
    version = registry.version_for_alias(task, CANDIDATE_ALIAS)
    if version is None:
        raise NotFound(f"{task} has no {CANDIDATE_ALIAS} version")
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    return registry.download(version, destination)
