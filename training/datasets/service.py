"""Dataset versions: content hashing, atomic snapshots, ingestion, derived versions, lineage.

A version's identity is the SHA-256 of a canonical serialisation of its rows (format tag, task,
column names, then one JSON array per row in order), so the same content is the same version on
every machine. The rows live in `data_dir/datasets/<hash>.parquet`, written to a temporary file
and renamed into place; the database row is added only once the file exists, and a failure
removes a file this call created, so nothing partial is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, InvalidInput, NotFound
from sentimentops.identity.keys import utcnow
from sentimentops.core.settings import Settings
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.datasets.readers import (
    ColumnMapping,
    check_file,
    read_table,
    to_canonical,
)
from sentimentops.training.datasets.schemas import (
    CANONICAL_COLUMNS,
    FileFormat,
    LineageNode,
    ValidationReport,
)
from sentimentops.training.datasets.validation import require_valid, rules_from
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.core.vocabulary import TASKS

FORMAT = "sentimentops.dataset/v1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STRING_COLUMNS = frozenset(CANONICAL_COLUMNS) - {"label"}
MAX_LINEAGE_DEPTH = 64


@dataclass(frozen=True)
class Owner:
    """Who a write belongs to and who made it (for the row and the audit log)."""

    tenant_id: str
    tenant_label: str  # the tenant's slug, as the audit log names tenants
    actor: str


@dataclass(frozen=True)
class Ingested:
    version: DatasetVersion
    created: bool
    report: ValidationReport | None


def store_dir(settings: Settings) -> Path:
    return settings.data_dir / "datasets"


def snapshot_path(settings: Settings, content_hash: str) -> Path:
    """The snapshot file of a hash; the hash is checked so that no value can escape the store."""
    if not _HEX64.match(content_hash):
        raise InvalidInput("a content hash is 64 lowercase hex digits")
    return store_dir(settings) / f"{content_hash}.parquet"


def canonical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The known columns in canonical order with fixed dtypes (strings, int64 labels); refuses
    missing values, which validation should have caught."""
    unknown = [c for c in frame.columns if c not in CANONICAL_COLUMNS]
    if unknown or not {"id", "text", "label"} <= set(frame.columns):
        raise InvalidInput(
            f"dataset columns must be {CANONICAL_COLUMNS}, got {list(frame.columns)}"
        )
    columns = [c for c in CANONICAL_COLUMNS if c in frame.columns]
    if frame[columns].isna().to_numpy().any():
        raise InvalidInput("dataset has missing values")
    out = pd.DataFrame({c: frame[c].astype("int64" if c == "label" else "string") for c in columns})
    return out.reset_index(drop=True)


def content_hash(frame: pd.DataFrame, *, task: str) -> str:
    """SHA-256 of the canonical serialisation (JSON, so no separator can be forged by a text)."""
    frame = canonical_frame(frame)
    columns = list(frame.columns)
    digest = hashlib.sha256()
    header = {"format": FORMAT, "task": task, "columns": columns}
    digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    for row in zip(*(frame[c].tolist() for c in columns), strict=True):
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def _write_snapshot(frame: pd.DataFrame, path: Path) -> bool:
    """Write atomically (temporary file in the same folder, fsync, rename); False when a file of
    this hash is already there (content-addressed, so it holds the same rows)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _schema(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(c), "dtype": str(frame[c].dtype)} for c in frame.columns]


def _label_balance(frame: pd.DataFrame, task: str) -> dict[str, int]:
    counts = frame["label"].value_counts()
    return {name: int(counts.get(i, 0)) for i, name in enumerate(LABEL_NAMES[task])}


def _split_counts(frame: pd.DataFrame) -> dict[str, int]:
    if "split" not in frame.columns:
        return {"all": len(frame)}
    counts = frame["split"].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def record_version(
    session: Session,
    *,
    settings: Settings,
    owner: Owner,
    name: str,
    task: str,
    frame: pd.DataFrame,
    parent_ids: list[str],
    transform: str,
    transform_params: dict[str, Any],
    source_name: str | None,
    source_sha256: str | None,
    created_files: list[Path] | None = None,
) -> tuple[DatasetVersion, bool]:
    """The version holding `frame`: the tenant's existing one with the same content, or a new one
    (file first, then the row). Returns (version, created). Files this call creates are appended
    to `created_files`, so that a caller running several steps can undo them all on failure."""
    frame = canonical_frame(frame)
    digest = content_hash(frame, task=task)
    path = snapshot_path(settings, digest)
    existing = session.execute(
        select(DatasetVersion).where(
            DatasetVersion.tenant_id == owner.tenant_id, DatasetVersion.content_hash == digest
        )
    ).scalar_one_or_none()
    if existing is not None:
        _write_snapshot(frame, path)  # restores a file someone deleted; no-op otherwise
        return existing, False
    created_file = _write_snapshot(frame, path)
    if created_file and created_files is not None:
        created_files.append(path)
    try:
        version = DatasetVersion(
            id=uuid.uuid4().hex,
            tenant_id=owner.tenant_id,
            name=name,
            task=task,
            content_hash=digest,
            schema=_schema(frame),
            row_count=len(frame),
            split_counts=_split_counts(frame),
            label_balance=_label_balance(frame, task),
            size_bytes=path.stat().st_size,
            source_name=source_name,
            source_sha256=source_sha256,
            parent_ids=list(parent_ids),
            transform=transform,
            transform_params=json.loads(json.dumps(transform_params, default=str)),
            created_by=owner.actor,
            created_at=utcnow(),
        )
        session.add(version)
        session.flush()
        audit.record(
            session,
            actor=owner.actor,
            tenant=owner.tenant_label,
            action=f"dataset.{transform}",
            resource=f"dataset_version:{version.id}",
            outcome=AuditOutcome.SUCCEEDED,
            details={
                "name": name,
                "content_hash": digest,
                "rows": len(frame),
                "parents": list(parent_ids),
            },
        )
    except BaseException:
        # Another tenant may share the file (same content); only a file this call made goes.
        if created_file:
            path.unlink(missing_ok=True)
        raise
    return version, True


def check_task_and_name(task: str, name: str) -> None:
    if task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if not _NAME.match(name):
        raise InvalidInput(
            "dataset name: letters, digits, '.', '_' and '-', starting with a letter or digit, "
            "at most 128 characters"
        )


def ingest(
    session: Session,
    *,
    settings: Settings,
    owner: Owner,
    path: Path,
    task: str,
    name: str,
    mapping: ColumnMapping,
    file_format: FileFormat | None = None,
    source_name: str | None = None,
) -> Ingested:
    """Read, map, validate and snapshot a file. Every check runs before anything is written."""
    check_task_and_name(task, name)
    raw = check_file(path, max_bytes=settings.max_dataset_bytes, fmt=file_format, name=source_name)
    table = read_table(raw)
    frame, label_mapping = to_canonical(table, mapping, task)
    report = require_valid(frame, task=task, rules=rules_from(settings))
    version, created = record_version(
        session,
        settings=settings,
        owner=owner,
        name=name,
        task=task,
        frame=frame,
        parent_ids=[],
        transform="ingest",
        transform_params={
            "format": raw.format,
            "columns": mapping.as_params(),
            "labels": label_mapping,
        },
        source_name=raw.name,
        source_sha256=raw.sha256,
    )
    return Ingested(version, created, report)


def derive(
    session: Session,
    *,
    settings: Settings,
    owner: Owner,
    parent: DatasetVersion,
    frame: pd.DataFrame,
    transform: str,
    transform_params: dict[str, Any],
    created_files: list[Path] | None = None,
) -> tuple[DatasetVersion, bool]:
    """A child version of `parent` made by `transform`; the parent itself when the content is
    unchanged (a no-op step adds nothing to the lineage)."""
    if content_hash(frame, task=parent.task) == parent.content_hash:
        return parent, False
    return record_version(
        session,
        settings=settings,
        owner=owner,
        name=parent.name,
        task=parent.task,
        frame=frame,
        parent_ids=[parent.id],
        transform=transform,
        transform_params=transform_params,
        source_name=parent.source_name,
        source_sha256=parent.source_sha256,
        created_files=created_files,
    )


def load_frame(settings: Settings, version: DatasetVersion, *, verify: bool = True) -> pd.DataFrame:
    """A version's rows; with `verify`, refuses a snapshot whose content no longer matches."""
    path = snapshot_path(settings, version.content_hash)
    if not path.is_file():
        raise NotFound(f"snapshot of dataset version {version.id} is missing ({path.name})")
    frame = canonical_frame(pd.read_parquet(path))
    if verify and content_hash(frame, task=version.task) != version.content_hash:
        raise Conflict(f"snapshot {path.name} does not match its content hash (changed on disk)")
    return frame


def list_versions(
    session: Session, *, tenant_id: str, name: str | None = None, task: str | None = None
) -> list[DatasetVersion]:
    query = select(DatasetVersion).where(DatasetVersion.tenant_id == tenant_id)
    if name is not None:
        query = query.where(DatasetVersion.name == name)
    if task is not None:
        query = query.where(DatasetVersion.task == task)
    query = query.order_by(DatasetVersion.created_at.desc(), DatasetVersion.id)
    return list(session.execute(query).scalars())


def get_version(session: Session, *, tenant_id: str, ref: str) -> DatasetVersion:
    """A version by id, or by a unique prefix (8+ hex digits) of its id or content hash. Another
    tenant's version is NotFound, exactly like a missing one (the rule of identity.tenancy;
    the CLI has a tenant, not a Principal, hence the explicit filter)."""
    found = session.get(DatasetVersion, ref)
    if found is not None and found.tenant_id == tenant_id:
        return found
    if len(ref) >= 8 and re.fullmatch(r"[0-9a-f]+", ref):
        matches = list(
            session.execute(
                select(DatasetVersion).where(
                    DatasetVersion.tenant_id == tenant_id,
                    DatasetVersion.id.startswith(ref) | DatasetVersion.content_hash.startswith(ref),
                )
            ).scalars()
        )
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"{ref!r} matches {len(matches)} dataset versions; give more digits")
    raise NotFound("dataset version not found")


def lineage(session: Session, *, version: DatasetVersion) -> LineageNode:
    """The version and its ancestors (same tenant), as a tree."""

    def node(current: DatasetVersion, depth: int, seen: frozenset[str]) -> LineageNode:
        parents: list[LineageNode] = []
        if depth < MAX_LINEAGE_DEPTH:
            for parent_id in current.parent_ids:
                parent = session.get(DatasetVersion, parent_id)
                if parent is None or parent.tenant_id != version.tenant_id or parent_id in seen:
                    continue
                parents.append(node(parent, depth + 1, seen | {parent_id}))
        return LineageNode(
            id=current.id,
            name=current.name,
            content_hash=current.content_hash,
            row_count=current.row_count,
            transform=current.transform,
            transform_params=current.transform_params,
            source_name=current.source_name,
            parents=parents,
        )

    return node(version, 0, frozenset({version.id}))
