"""Export: a project's resolved labels become a content-hashed dataset version, through the
dataset service (its hashing, snapshot and lineage), so that training reads it like any other.

A project over a dataset version exports that version with the resolved labels put in (a child
of it, transform `relabel`: the rows the project did not hold are kept as they were). A project
over feedback or the prediction log exports its resolved texts as a new root version (transform
`labeling_export`), split by the reference data's rule. Either way the version's transform
parameters name the project, its source and the annotators and reviewers whose labels it holds.
Gold items are left out: their labels were known before, and they test annotators, not models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import Settings
from sentimentops.identity.principal import Principal
from sentimentops.labeling.models import LabelingAssignment, LabelingItem, LabelingProject
from sentimentops.labeling.service import BY_AGREEMENT, DONE, RESOLVED, audit_change
from sentimentops.training.datasets import service as datasets
from sentimentops.training.datasets import transforms
from sentimentops.training.datasets.models import DatasetVersion


@dataclass(frozen=True)
class Exported:
    version: DatasetVersion
    created: bool
    rows: int
    relabeled: int


def default_name(project: LabelingProject) -> str:
    """A dataset name for the export (project names are free text, dataset names are not)."""
    return f"labeling-{project.id[:12]}"


def export_project(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    project: LabelingProject,
    name: str | None,
    created_files: list[Path],
) -> Exported:
    """The dataset version holding the project's resolved labels (an existing one when the
    content is the same). Snapshot files this call writes are appended to `created_files`."""
    dataset_name = name or default_name(project)
    datasets.check_task_and_name(project.task, dataset_name)
    resolved = list(
        session.execute(
            select(LabelingItem)
            .where(
                LabelingItem.project_id == project.id,
                LabelingItem.status == RESOLVED,
                LabelingItem.gold_label.is_(None),
            )
            .order_by(LabelingItem.position)
        ).scalars()
    )
    if not resolved:
        raise InvalidInput(
            f"no item of project {project.name!r} is resolved yet: nothing to export"
        )
    annotators = sorted(
        set(
            session.execute(
                select(LabelingAssignment.annotator).where(
                    LabelingAssignment.item_id.in_([i.id for i in resolved]),
                    LabelingAssignment.status == DONE,
                )
            ).scalars()
        )
    )
    reviewers = sorted({i.resolved_by or "" for i in resolved} - {"", BY_AGREEMENT})
    index = {label: position for position, label in enumerate(project.labels)}
    owner = datasets.Owner(principal.tenant_id, principal.tenant, principal.actor)
    params: dict[str, Any] = {
        "project_id": project.id,
        "project_name": project.name,
        "source": project.source_kind,
        "source_version": project.source_dataset_id,
        "annotators": annotators,
        "reviewers": reviewers,
        "items": len(resolved),
    }

    if project.source_dataset_id is not None:
        parent = datasets.get_version(
            session, tenant_id=principal.tenant_id, ref=project.source_dataset_id
        )
        before = datasets.load_frame(settings, parent)
        labels = {i.source_ref: index[str(i.resolved_label)] for i in resolved}
        ids = before["id"].astype(str)
        frame = before.copy()
        chosen = ids.isin(list(labels))
        frame.loc[chosen, "label"] = ids[chosen].map(labels).astype("int64")
        relabeled = int((frame["label"] != before["label"]).sum())
        version, created = datasets.record_version(
            session,
            settings=settings,
            owner=owner,
            name=dataset_name,
            task=project.task,
            frame=frame,
            parent_ids=[parent.id],
            transform="relabel",
            transform_params={**params, "relabeled": relabeled},
            source_name=parent.source_name,
            source_sha256=parent.source_sha256,
            created_files=created_files,
        )
    else:
        frame = pd.DataFrame(
            {
                "id": [f"{project.source_kind}:{i.source_ref}" for i in resolved],
                "text": [i.text for i in resolved],
                "label": [index[str(i.resolved_label)] for i in resolved],
            }
        )
        frame, split = transforms.split(frame)
        relabeled = sum(
            1 for i in resolved if i.source_label is not None and i.source_label != i.resolved_label
        )
        version, created = datasets.record_version(
            session,
            settings=settings,
            owner=owner,
            name=dataset_name,
            task=project.task,
            frame=frame,
            parent_ids=[],
            transform="labeling_export",
            transform_params={**params, "relabeled": relabeled, "split": split},
            source_name=f"labeling_project:{project.id}",
            source_sha256=None,
            created_files=created_files,
        )
    if version.id not in project.exports:
        project.exports = [*project.exports, version.id]
    audit_change(
        session,
        principal,
        "export",
        f"labeling_project:{project.id}",
        dataset_version=version.id,
        created=created,
        rows=len(frame),
        relabeled=relabeled,
    )
    return Exported(version=version, created=created, rows=len(frame), relabeled=relabeled)
