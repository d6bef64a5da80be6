"""Dataset flows: ingest a file as a validated, content-hashed version in one transaction. The
upload route and `sentimentops data ingest` both call it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sentimentops.core.db import transaction
from sentimentops.core.flows import FlowContext
from sentimentops.training.datasets.schemas import DatasetVersionOut, FileFormat, IngestResult

if TYPE_CHECKING:  # both import pandas: the scoring-only install imports this module
    from sentimentops.training.datasets.readers import ColumnMapping
    from sentimentops.training.datasets.service import Owner


def ingest_flow(
    ctx: FlowContext,
    *,
    owner: Owner,
    path: Path,
    task: str,
    name: str,
    mapping: ColumnMapping,
    file_format: FileFormat | None = None,
    source_name: str | None = None,
) -> IngestResult:
    """Read, map, validate and store a file for `owner`'s tenant; an identical file already
    stored is answered with that version (`created` false)."""
    from sentimentops.training.datasets import service

    with transaction(ctx.sessions) as session:
        result = service.ingest(
            session, settings=ctx.settings, owner=owner, path=path, task=task, name=name,
            mapping=mapping, file_format=file_format, source_name=source_name,
        )
        return IngestResult(
            created=result.created, version=DatasetVersionOut.model_validate(result.version)
        )
