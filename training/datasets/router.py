"""Dataset API: list, get, lineage, and ingest by upload (thin: policy, then one service call).

The service (pandas, pyarrow, Great Expectations) is imported inside the handlers: the API
process must start without them, and the scoring install does not have them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from sentimentops.core.http.deps import FlowDep, ReadSessionDep
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal
from sentimentops.core.errors import InvalidInput
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned
from sentimentops.core.flows import FlowContext
from sentimentops.training.datasets import permissions
from sentimentops.training.datasets.flows import ingest_flow
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.datasets.schemas import DatasetVersionOut, FileFormat, IngestResult, LineageNode
from sentimentops.core.vocabulary import Task

UPLOAD_PATH = "/api/v1/datasets"
router = APIRouter(prefix=UPLOAD_PATH, dependencies=[AUTHENTICATED], tags=["datasets"])

ColumnName = Annotated[str, Query(min_length=1, max_length=256)]


@router.get("", operation_id="datasets-list")
def list_datasets(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    name: Annotated[str | None, Query(max_length=128)] = None,
    task: Task | None = None,
) -> list[DatasetVersionOut]:
    """The tenant's dataset versions, newest first."""
    permissions.can_read_datasets(principal)
    query = owned(DatasetVersion, principal)
    if name is not None:
        query = query.where(DatasetVersion.name == name)
    if task is not None:
        query = query.where(DatasetVersion.task == task)
    query = query.order_by(DatasetVersion.created_at.desc(), DatasetVersion.id).limit(1000)
    return [DatasetVersionOut.model_validate(v) for v in session.execute(query).scalars()]


@router.get("/{dataset_id}", operation_id="datasets-get")
def get_dataset(
    dataset_id: str, principal: CurrentPrincipal, session: ReadSessionDep
) -> DatasetVersionOut:
    """One version: schema, counts, label balance, source, hash, transform and parents."""
    permissions.can_read_datasets(principal)
    return DatasetVersionOut.model_validate(
        get_owned(session, DatasetVersion, dataset_id, principal)
    )


@router.get("/{dataset_id}/lineage", operation_id="datasets-lineage")
def get_lineage(dataset_id: str, principal: CurrentPrincipal, session: ReadSessionDep) -> LineageNode:
    """The version and its ancestors, each with the transform that produced it."""
    permissions.can_read_datasets(principal)
    from sentimentops.training.datasets import service

    return service.lineage(
        session, version=get_owned(session, DatasetVersion, dataset_id, principal)
    )


def _ingest(
    ctx: FlowContext,
    principal: Principal,
    path: Path,
    source_name: str,
    task: str,
    name: str,
    text_col: str,
    label_col: str,
    id_col: str | None,
    split_col: str | None,
    file_format: FileFormat,
) -> IngestResult:
    # Imported here: pandas and pyarrow load only when a file is ingested.
    from sentimentops.training.datasets.readers import ColumnMapping
    from sentimentops.training.datasets.service import Owner

    return ingest_flow(
        ctx,
        owner=Owner(principal.tenant_id, principal.tenant, principal.actor),
        path=path,
        task=task,
        name=name,
        mapping=ColumnMapping(text=text_col, label=label_col, id=id_col, split=split_col),
        file_format=file_format,
        source_name=source_name,
    )


@router.post(
    "",
    status_code=201,
    operation_id="datasets-ingest",
    responses={200: {"description": "identical content was already ingested"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def ingest_dataset(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    flows: FlowDep,
    task: Task,
    name: Annotated[str, Query(min_length=1, max_length=128)],
    text_col: ColumnName,
    label_col: ColumnName,
    file_format: Annotated[FileFormat, Query(alias="format")],
    id_col: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    split_col: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> IngestResult:
    """Upload a file (the raw body: CSV, JSONL or Parquet) and store it as a validated,
    content-hashed version: 201 when created, 200 when identical content already existed. The
    body limit is settings.max_dataset_upload_bytes; larger files go through the CLI."""
    permissions.can_ingest_datasets(principal)
    settings = flows.settings
    limit = min(settings.max_dataset_upload_bytes, settings.max_dataset_bytes)
    with tempfile.TemporaryDirectory(prefix="sentimentops-upload-") as tmp:
        path = Path(tmp) / f"upload.{file_format}"
        size = 0
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:  # the middleware enforces it too; this keeps the route safe
                    raise InvalidInput(f"upload exceeds {limit:,} bytes")
                f.write(chunk)
        # Only the base name is kept: it is a label in lineage, never a path we open.
        source_name = Path(filename).name if filename else f"upload.{file_format}"
        result = await run_in_threadpool(
            _ingest, flows, principal, path, source_name, task, name, text_col, label_col,
            id_col, split_col, file_format,
        )
    if not result.created:
        response.status_code = 200
    return result
