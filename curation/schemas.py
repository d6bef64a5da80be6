"""What the curation flow reports and the data-issues API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DataIssueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dataset_version_id: str
    previous_version_id: str | None
    task: str
    kinds: list[str]
    status: str
    summary: str
    evidence: dict[str, Any]
    opened_by: str
    created_at: datetime


class Drift(BaseModel):
    """How a version differs from the previous one; `kinds` is empty when it does not drift."""

    previous_version_id: str
    kinds: list[str] = Field(default_factory=list)
    columns_added: list[str] = Field(default_factory=list)
    columns_removed: list[str] = Field(default_factory=list)
    # {"column": {"before": dtype, "after": dtype}} for columns whose type changed.
    columns_retyped: dict[str, dict[str, str]] = Field(default_factory=dict)
    # {"label": {"before": %, "after": %, "change": points}} for every label of either version.
    label_shares: dict[str, dict[str, float]] = Field(default_factory=dict)
    threshold_points: float


class Suspect(BaseModel):
    """A row whose label the out-of-fold model confidently disputes (training/curation.py)."""

    row_id: str
    text_sha256: str
    given_label: str
    suggested_label: str
    score: float = Field(ge=0.0, le=1.0)


class CurationReport(BaseModel):
    """What one curation of a dataset version found and did."""

    dataset_version_id: str
    task: str
    rows: int
    validation_passed: bool
    # Great Expectations' failures, one plain sentence each.
    validation_failures: list[str] = Field(default_factory=list)
    drift: Drift | None = None  # None: no earlier version of this dataset to compare with
    # The open data issue about the drift (opened by this run, or by an earlier one).
    issue: DataIssueOut | None = None
    suspects: list[Suspect] = Field(default_factory=list)  # most suspect first
    suspects_note: str | None = None  # why no suspects were looked for, when they were not
    # Labeling items (of projects over this version) whose suspected-error score was filled.
    prioritised_items: int = 0
    thread_id: str | None = None  # the agent's thread with its proposal
    draft_plan_hash: str | None = None  # the relabeling proposal waiting for a person
    notice_error: str | None = None  # why the data issue's notice could not be sent
