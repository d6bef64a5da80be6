"""create_relabel_project: a labeling project over the rows of a dataset version whose labels
are suspect, served most suspect first. State-changing, so an agent's call waits for a human
approval of its plan (policies/rego/sentimentops/tools.rego)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import Field, model_validator

from sentimentops.core.errors import InvalidInput
from sentimentops.core.vocabulary import PrincipalKind
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec

MAX_ITEMS = 2000
RELABEL_TRANSFORM = "select_suspected"
HexId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]
RowId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
Annotator = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]


class RelabelInput(ToolInput):
    dataset_id: HexId = Field(description="the dataset version whose rows are suspect")
    row_ids: list[RowId] = Field(
        min_length=1, max_length=MAX_ITEMS, description="the suspect rows' ids, most suspect first"
    )
    scores: list[float] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="each row's suspected-error score (0..1), in the order of row_ids",
    )
    annotators: list[Annotator] = Field(min_length=1, max_length=50)
    overlap: int = Field(default=1, ge=1, le=5, description="annotators per item")
    name: str = Field(
        default="relabel suspected errors", min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$"
    )

    @model_validator(mode="after")
    def _paired(self) -> RelabelInput:
        if len(self.scores) != len(self.row_ids):
            raise ValueError("scores must have one value per row id")
        if any(not 0.0 <= s <= 1.0 for s in self.scores):
            raise ValueError("scores must lie in 0..1")
        if len(set(self.row_ids)) != len(self.row_ids):
            raise ValueError("row ids must be distinct")
        return self


class RelabelOutput(ToolOutput):
    project_id: str
    subset_version_id: str  # the derived dataset version holding only the suspect rows
    items: int
    created: bool  # False: an earlier attempt of this call had made the project


def _principal(ctx: ToolContext, tenant_id: str) -> Principal:
    """Who the labeling service records as the project's creator: the plan's proposer as the
    workflow names it ("agent:<id>", "human:<sub>"); the policy decided already that it may."""
    kind, _, subject = ctx.actor.partition(":")
    known = {k.value for k in PrincipalKind}
    return Principal(
        tenant_id=tenant_id,
        tenant=ctx.tenant,
        subject=subject if kind in known and subject else ctx.actor,
        name=ctx.actor,
        kind=PrincipalKind(kind) if kind in known and subject else PrincipalKind.SERVICE,
        roles=frozenset(),
        method=AuthMethod.FIRST_PARTY,
    )


def _create(ctx: ToolContext, params: RelabelInput) -> RelabelOutput:
    # pandas and the labeling service load in the worker's thread, only when the tool runs.
    from sqlalchemy import select

    from sentimentops.core.db import transaction
    from sentimentops.identity.keys import utcnow
    from sentimentops.labeling import service as labeling
    from sentimentops.labeling.models import LabelingItem, LabelingProject
    from sentimentops.labeling.schemas import ProjectCreate, ProjectSource, SuspectedError
    from sentimentops.training.datasets import service as datasets

    with transaction(ctx.sessions) as session:
        tenant_id = ctx.tenant_id(session)
        principal = _principal(ctx, tenant_id)
        parent = datasets.get_version(session, tenant_id=tenant_id, ref=params.dataset_id)
        frame = datasets.load_frame(ctx.settings, parent)
        wanted = set(params.row_ids)
        subset = frame[frame["id"].astype(str).isin(wanted)]
        if subset.empty:
            raise InvalidInput(f"none of the row ids are rows of dataset version {parent.id}")
        # The same rows are the same content, hence the same version: a retried call finds the
        # version, and then the project, its first attempt made.
        version, _new = datasets.record_version(
            session,
            settings=ctx.settings,
            owner=datasets.Owner(tenant_id=tenant_id, tenant_label=ctx.tenant, actor=ctx.actor),
            name=f"{parent.name[:100]}-relabel",
            task=parent.task,
            frame=subset,
            parent_ids=[parent.id],
            transform=RELABEL_TRANSFORM,
            transform_params={"rows": len(subset), "requested": len(wanted)},
            source_name=parent.source_name,
            source_sha256=parent.source_sha256,
        )
        earlier = session.execute(
            select(LabelingProject).where(
                LabelingProject.tenant_id == tenant_id,
                LabelingProject.source_dataset_id == version.id,
                LabelingProject.name == params.name,
            )
        ).scalar_one_or_none()
        if earlier is not None:
            return RelabelOutput(
                project_id=earlier.id,
                subset_version_id=version.id,
                items=earlier.item_count,
                created=False,
            )
        body = ProjectCreate(
            name=params.name,
            task=parent.task,
            guidelines=(
                "These rows' labels were flagged as likely wrong by confident learning; "
                "label each text as you read it, not as the old label says."
            ),
            annotators=params.annotators,
            overlap=params.overlap,
            order="suspected_error",
            source=ProjectSource(kind="dataset", dataset_id=version.id),
        )
        now = utcnow()
        gathered = labeling.gather(
            session, settings=ctx.settings, principal=principal, body=body, now=now
        )
        project = labeling.store_project(
            session, principal=principal, body=body, gathered=gathered, now=now
        )
        scores = dict(zip(params.row_ids, params.scores, strict=True))
        items = session.execute(
            select(LabelingItem.id, LabelingItem.source_ref).where(
                LabelingItem.project_id == project.id
            )
        ).all()
        labeling.set_suspected_errors(
            session,
            principal=principal,
            project=project,
            scores=[
                SuspectedError(item_id=item_id, score=scores[ref])
                for item_id, ref in items
                if ref in scores
            ],
        )
        return RelabelOutput(
            project_id=project.id,
            subset_version_id=version.id,
            items=project.item_count,
            created=True,
        )


async def create_relabel_project(ctx: ToolContext, params: RelabelInput) -> RelabelOutput:
    """Create a labeling project over the given rows of a dataset version (those whose labels
    the Data Curation agent suspects), as a derived dataset version of just those rows, with
    the rows' suspected-error scores filled so the queue serves the most suspect first.
    Changes state (a new dataset version and project); repeating the call with the same rows
    and name returns the first call's project."""
    return await asyncio.to_thread(_create, ctx, params)


SPEC = ToolSpec(
    name="create_relabel_project",
    input_model=RelabelInput,
    output_model=RelabelOutput,
    run=create_relabel_project,
    timeout_seconds=300,
)
