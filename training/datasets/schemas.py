"""Dataset API and report shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sentimentops.core.vocabulary import Task
from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["csv", "jsonl", "parquet"]

# The expected columns of a snapshot, in canonical order (`split` and `language` appear once
# the processing pipeline adds them).
CANONICAL_COLUMNS = ("id", "text", "label", "split", "language")


class ExampleRow(BaseModel):
    """One offending row: its 0-based position in the batch and the (shortened) value."""

    row: int | None
    value: str


class ExpectationOutcome(BaseModel):
    expectation: str  # Great Expectations' name, e.g. expect_column_values_to_not_be_null
    rule: str  # the same in words, e.g. "no missing values"
    column: str
    success: bool
    observed: str = ""
    unexpected_count: int = 0
    examples: list[ExampleRow] = Field(default_factory=list)


class ValidationReport(BaseModel):
    """Great Expectations' verdict on one batch, reduced to what a person needs to fix it."""

    success: bool
    row_count: int
    outcomes: list[ExpectationOutcome]

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        """Readable multi-line text: one line per failing expectation with example rows."""
        lines = [f"dataset validation failed ({self.row_count} rows):"]
        for failure in self.failures:
            observed = f" (observed {failure.observed})" if failure.observed else ""
            lines.append(
                f"- {failure.rule} ({failure.expectation}) on {failure.column!r}: "
                f"{failure.unexpected_count} rows{observed}"
            )
            for example in failure.examples:
                where = f"row {example.row}" if example.row is not None else "e.g."
                lines.append(f"    {where}: {example.value}")
        return "\n".join(lines)


class ColumnSchema(BaseModel):
    name: str
    dtype: str


class DatasetVersionOut(BaseModel):
    """A dataset version as the API and `data show` present it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    task: str
    content_hash: str
    schema_: list[ColumnSchema] = Field(alias="schema", serialization_alias="schema")
    row_count: int
    split_counts: dict[str, int]
    label_balance: dict[str, int]
    size_bytes: int
    source_name: str | None
    source_sha256: str | None
    parent_ids: list[str]
    transform: str
    transform_params: dict[str, Any]
    created_by: str
    created_at: datetime


class IngestResult(BaseModel):
    """An ingested version and whether this call created it (False: identical content existed)."""

    created: bool
    version: DatasetVersionOut


class LineageNode(BaseModel):
    """A version and, recursively, the versions it was derived from."""

    id: str
    name: str
    content_hash: str
    row_count: int
    transform: str
    transform_params: dict[str, Any]
    source_name: str | None
    parents: list[LineageNode] = Field(default_factory=list)
