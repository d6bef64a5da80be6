"""Feedback and labeling API shapes. Every input is bounded here (lengths, counts); the limits
that depend on settings (text length, items per project) are checked by the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentimentops.core.vocabulary import Task
from sentimentops.training.datasets.schemas import DatasetVersionOut

MAX_FEEDBACK_ITEMS = 1000
MAX_ANNOTATORS = 100
MAX_OVERLAP = 10
MAX_GOLD_ITEMS = 500
MAX_NOTE_CHARS = 2000
MAX_GUIDELINES_CHARS = 20_000
# A text is bounded again by settings.max_text_chars; this is the schema's outer bound.
MAX_TEXT_CHARS = 100_000
MAX_SCORES = 10_000

Order = Literal["uncertainty", "disagreement", "drift", "suspected_error", "source"]
ORDERS: tuple[Order, ...] = ("uncertainty", "disagreement", "drift", "suspected_error", "source")
SourceKind = Literal["dataset", "feedback", "predictions"]
ItemStatus = Literal["open", "conflict", "resolved"]
ITEM_STATUSES: tuple[ItemStatus, ...] = ("open", "conflict", "resolved")
QueueState = Literal["served", "wait", "done"]

# PostgreSQL stores no NUL character in text, and names and keys are printed and logged: names
# refuse control characters, free text refuses NUL.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
NO_NUL = r"^[^\x00]*$"
AccountRef = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE)]
LabelName = Field(min_length=1, max_length=64)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedbackItem(_Input):
    """One correction: the text (or its SHA-256, as the prediction log keeps it) and the label it
    should have had. A retry with the same `idempotency_key` is stored once."""

    idempotency_key: str = Field(min_length=1, max_length=128, pattern=PRINTABLE)
    task: Task
    label: str = LabelName
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS, pattern=NO_NUL)
    text_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    request_id: str | None = Field(
        default=None,
        max_length=128,
        pattern=PRINTABLE,
        description="The X-Request-ID of the scoring call, if kept.",
    )
    model_version: str | None = Field(
        default=None,
        max_length=64,
        pattern=PRINTABLE,
        description="The version that answered (its `model`).",
    )

    @model_validator(mode="after")
    def _text_or_hash(self) -> FeedbackItem:
        if self.text is None and self.text_sha256 is None:
            raise ValueError("give the text or its text_sha256")
        return self


class FeedbackBatch(_Input):
    items: list[FeedbackItem] = Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    idempotency_key: str
    task: str
    label: str
    text_sha256: str
    request_id: str | None
    prediction_id: int | None
    model_version: str | None
    predicted_label: str | None
    created_at: datetime


class FeedbackStored(BaseModel):
    created: bool
    feedback: FeedbackOut


class FeedbackReceipt(BaseModel):
    """Per item, in request order: the stored row and whether this call stored it (False: the
    key had been stored before, by a retry or earlier in the batch)."""

    created: int
    duplicates: int
    items: list[FeedbackStored]


class ProjectSource(_Input):
    kind: SourceKind
    dataset_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=PRINTABLE,
        description="The dataset version (kind dataset).",
    )
    window_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 366,
        description="Only feedback or predictions of the last hours (default: all).",
    )

    @model_validator(mode="after")
    def _dataset_named(self) -> ProjectSource:
        if (self.kind == "dataset") != (self.dataset_id is not None):
            raise ValueError("dataset_id is given exactly when the source kind is dataset")
        if self.kind == "dataset" and self.window_hours is not None:
            raise ValueError("window_hours applies to feedback and predictions, not a dataset")
        return self


class GoldItem(_Input):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=NO_NUL)
    label: str = LabelName


class ProjectCreate(_Input):
    name: str = Field(min_length=1, max_length=128, pattern=PRINTABLE)
    task: Task
    guidelines: str = Field(default="", max_length=MAX_GUIDELINES_CHARS, pattern=NO_NUL)
    annotators: list[AccountRef] = Field(
        min_length=1, max_length=MAX_ANNOTATORS, description="Account ids allowed to annotate."
    )
    items_per_annotator: int | None = Field(default=None, ge=1, le=1_000_000)
    overlap: int = Field(default=1, ge=1, le=MAX_OVERLAP, description="Annotators per item.")
    order: Order = "uncertainty"
    drift_window_hours: int = Field(default=24, ge=1, le=24 * 366)
    source: ProjectSource
    max_items: int | None = Field(
        default=None, ge=1, le=1_000_000, description="At most SENTIMENTOPS_LABELING_MAX_ITEMS."
    )
    gold: list[GoldItem] = Field(default_factory=list, max_length=MAX_GOLD_ITEMS)


class ProjectUpdate(_Input):
    """What may change while a project runs; fields left out stay as they are. The source, the
    task and the overlap are fixed: the items and their answers were made for them."""

    guidelines: str | None = Field(default=None, max_length=MAX_GUIDELINES_CHARS, pattern=NO_NUL)
    annotators: list[AccountRef] | None = Field(
        default=None, min_length=1, max_length=MAX_ANNOTATORS
    )
    items_per_annotator: int | None = Field(default=None, ge=1, le=1_000_000)
    order: Order | None = None
    drift_window_hours: int | None = Field(default=None, ge=1, le=24 * 366)


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    task: str
    labels: list[str]
    guidelines: str
    annotators: list[str]
    items_per_annotator: int | None
    overlap: int
    order: str
    drift_window_hours: int
    source_kind: str
    source_dataset_id: str | None
    item_count: int
    created_by: str
    created_at: datetime
    exports: list[str]


class Progress(BaseModel):
    open: int
    conflict: int
    resolved: int
    annotations: int
    skips: int
    locked: int


class ProjectDetail(BaseModel):
    project: ProjectOut
    progress: Progress


class QueueItem(BaseModel):
    """An item as an annotator sees it: no gold label, no model answer (it would anchor them),
    but why the queue put it here."""

    id: str
    project_id: str
    text: str
    why: str
    locked_until: datetime


class QueueAnswer(BaseModel):
    """`served`: the item is locked to the caller. `wait`: the remaining items are locked by
    other annotators; ask again later. `done`: nothing left for the caller."""

    state: QueueState
    item: QueueItem | None = None
    message: str


class AnnotationIn(_Input):
    label: str = LabelName
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, pattern=NO_NUL)
    time_spent_ms: int | None = Field(default=None, ge=0, le=86_400_000)


class AnnotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_id: str
    annotator: str
    status: str
    label: str | None
    note: str | None
    time_spent_ms: int | None
    updated_at: datetime


class AnnotationResult(BaseModel):
    annotation: AnnotationOut
    item_status: ItemStatus


class ResolveIn(_Input):
    label: str = LabelName


class ItemReview(BaseModel):
    """An item with everything a reviewer or curator needs, annotations included."""

    id: str
    position: int
    text: str
    status: str
    why: str
    source_ref: str
    source_label: str | None
    gold_label: str | None
    model_version: str | None
    predicted_label: str | None
    margin: float | None
    disagreement: bool
    suspected_error: float | None
    resolved_label: str | None
    resolved_by: str | None
    annotations: list[AnnotationOut]


class ItemPage(BaseModel):
    total: int
    items: list[ItemReview]


class SuspectedError(_Input):
    item_id: str = Field(min_length=1, max_length=32, pattern=PRINTABLE)
    score: float = Field(ge=0.0, le=1.0)


class SuspectedErrors(_Input):
    scores: list[SuspectedError] = Field(min_length=1, max_length=MAX_SCORES)


class ScoresStored(BaseModel):
    updated: int


class AnnotatorAgreementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    annotator: str
    annotated: int
    shared_items: int
    agreement_rate: float | None
    kappa_vs_others: float | None
    gold_answered: int
    gold_accuracy: float | None


class AgreementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    annotators: int
    items_with_overlap: int
    cohen_kappa: float | None = Field(description="When exactly two annotators share items.")
    krippendorff_alpha: float | None = Field(description="Nominal, any number of annotators.")
    per_annotator: list[AnnotatorAgreementOut]


class ExportIn(_Input):
    name: str | None = Field(
        default=None, min_length=1, max_length=128, description="The dataset's name."
    )


class ExportResult(BaseModel):
    created: bool
    rows: int
    relabeled: int = Field(description="Resolved items whose label differs from the source's.")
    version: DatasetVersionOut
