"""The processing pipeline as Dagster assets, materialised in-process (no DAGSTER_HOME, no
daemon): raw → validated → cleaned → language_detected → pii_scrubbed → deduplicated → split →
snapshot. Every step that changes the data records a child version with its transform, so the
lineage of the final snapshot shows the whole chain.

Frames pass between assets through the in-memory IO manager (Dagster's default file IO manager
would pickle them); the snapshots themselves are the Parquet files of the versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy.orm import Session

from sentimentops.core.errors import DomainError
from sentimentops.core.settings import Settings
from sentimentops.training.datasets import service, transforms
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.datasets.validation import require_valid, rules_from

Transform = Callable[[pd.DataFrame], tuple[pd.DataFrame, dict[str, Any]]]


@dataclass(frozen=True)
class StepRecord:
    asset: str
    version_id: str
    created: bool
    rows: int


@dataclass
class PipelineRun:
    """The collaborators of one materialisation (a Dagster resource, passed as an object)."""

    session: Session
    settings: Settings
    owner: service.Owner
    version_id: str
    on_step: Callable[[str], None] = lambda _message: None
    steps: list[StepRecord] = field(default_factory=list)
    created_files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """What flows between assets: the current version and its rows."""

    version: DatasetVersion
    frame: pd.DataFrame


def _note(pipeline: PipelineRun, asset: str, stage: Stage, created: bool) -> Stage:
    pipeline.steps.append(StepRecord(asset, stage.version.id, created, len(stage.frame)))
    pipeline.on_step(f"{asset}: {len(stage.frame):,} rows" + (" (new version)" if created else ""))
    return stage


def _derive(pipeline: PipelineRun, asset: str, previous: Stage, transform: Transform) -> Stage:
    frame, params = transform(previous.frame)
    frame = service.canonical_frame(frame)
    version, created = service.derive(
        pipeline.session,
        settings=pipeline.settings,
        owner=pipeline.owner,
        parent=previous.version,
        frame=frame,
        transform=asset,
        transform_params=params,
        created_files=pipeline.created_files,
    )
    return _note(pipeline, asset, Stage(version, frame), created)


@dg.asset
def raw(pipeline: dg.ResourceParam[PipelineRun]) -> Stage:
    """The version to process, read from its snapshot (content hash verified)."""
    version = service.get_version(
        pipeline.session, tenant_id=pipeline.owner.tenant_id, ref=pipeline.version_id
    )
    frame = service.load_frame(pipeline.settings, version)
    return _note(pipeline, "raw", Stage(version, frame), False)


@dg.asset
def validated(pipeline: dg.ResourceParam[PipelineRun], raw: Stage) -> Stage:
    """The Great Expectations suite; a failing batch stops the run."""
    require_valid(raw.frame, task=raw.version.task, rules=rules_from(pipeline.settings))
    return _note(pipeline, "validated", raw, False)


@dg.asset
def cleaned(pipeline: dg.ResourceParam[PipelineRun], validated: Stage) -> Stage:
    """NFKC, HTML remnants, invisible and control characters, whitespace."""
    return _derive(pipeline, "cleaned", validated, transforms.clean)


@dg.asset
def language_detected(pipeline: dg.ResourceParam[PipelineRun], cleaned: Stage) -> Stage:
    """A language column from lingua."""
    return _derive(pipeline, "language_detected", cleaned, transforms.detect_language)


@dg.asset
def pii_scrubbed(pipeline: dg.ResourceParam[PipelineRun], language_detected: Stage) -> Stage:
    """E-mail addresses, phones, card numbers, IPs and URLs replaced by placeholders."""
    return _derive(pipeline, "pii_scrubbed", language_detected, transforms.scrub)


@dg.asset
def deduplicated(pipeline: dg.ResourceParam[PipelineRun], pii_scrubbed: Stage) -> Stage:
    """One row per normalised text; texts labelled both ways dropped."""
    return _derive(pipeline, "deduplicated", pii_scrubbed, transforms.deduplicate)


@dg.asset
def split(pipeline: dg.ResourceParam[PipelineRun], deduplicated: Stage) -> Stage:
    """Deterministic train/validation/test splits (the reference datasets' rules)."""
    return _derive(pipeline, "split", deduplicated, transforms.split)


@dg.asset
def snapshot(pipeline: dg.ResourceParam[PipelineRun], split: Stage) -> str:
    """The final version's id, after re-reading its snapshot and checking its hash."""
    service.load_frame(pipeline.settings, split.version)
    _note(pipeline, "snapshot", split, False)
    return split.version.id


ASSETS = [raw, validated, cleaned, language_detected, pii_scrubbed, deduplicated, split, snapshot]
# Dagster's console logger prints every step event at DEBUG; the CLI shows its own progress.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class ProcessResult:
    final: DatasetVersion
    steps: list[StepRecord]


def process(
    session: Session,
    *,
    settings: Settings,
    owner: service.Owner,
    version_id: str,
    on_step: Callable[[str], None] | None = None,
) -> ProcessResult:
    """Materialise the pipeline on one version. All-or-nothing: on failure the snapshot files this
    run created are removed and the caller's transaction is to be rolled back."""
    pipeline = PipelineRun(session, settings, owner, version_id)
    if on_step is not None:
        pipeline.on_step = on_step
    try:
        result = dg.materialize(
            ASSETS,
            resources={"pipeline": pipeline, "io_manager": dg.mem_io_manager},
            run_config=_QUIET,
        )
        final_id = result.output_for_node("snapshot")
    except BaseException as exc:
        for path in pipeline.created_files:
            path.unlink(missing_ok=True)
        cause = getattr(exc, "user_exception", None)
        if isinstance(exc, dg.DagsterExecutionStepExecutionError) and isinstance(
            cause, DomainError
        ):
            raise cause from None
        raise
    final = service.get_version(session, tenant_id=owner.tenant_id, ref=str(final_id))
    return ProcessResult(final, pipeline.steps)
