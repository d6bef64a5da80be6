"""validate_dataset: sanity checks of a task's training data before anything trains on it."""

from __future__ import annotations

import asyncio

from pydantic import Field

from sentimentops.core.vocabulary import Task
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec

MAX_DUPLICATE_SHARE = 0.05


class ValidateDatasetInput(ToolInput):
    task: Task
    min_rows: int = Field(default=100, ge=1, description="fewest rows each split must have")


class ValidateDatasetOutput(ToolOutput):
    task: str
    dataset_hash: str
    rows: dict[str, int]
    passed: bool
    reasons: list[str]


async def validate_dataset(ctx: ToolContext, params: ValidateDatasetInput) -> ValidateDatasetOutput:
    """Validate the reference dataset a task trains on: train and test splits present with
    enough rows, no empty texts, labels within the task's label set, few duplicate texts.
    Returns its content hash (the version that training will record) and `passed` with the
    reasons it failed. Read-only."""

    def work() -> ValidateDatasetOutput:
        # pandas: imported by the worker that runs the tool, not by every importer of the
        # catalogue, and in this thread, so the import does not hold up the activity's heartbeats.
        from sentimentops.training.reference_data import LABEL_NAMES, frame_hash, load_task

        data = load_task(params.task, ctx.settings.datasets_dir)
        rows = {str(k): int(v) for k, v in data["split"].value_counts().sort_index().items()}
        reasons: list[str] = []
        for split in ("train", "test"):
            if rows.get(split, 0) < params.min_rows:
                reasons.append(f"split {split} has {rows.get(split, 0)} rows (< {params.min_rows})")
        texts = data["text"].astype(str)
        if (texts.str.strip() == "").any():
            reasons.append(f"{int((texts.str.strip() == '').sum())} empty texts")
        n_labels = len(LABEL_NAMES[params.task])
        bad = data[(data["label"] < 0) | (data["label"] >= n_labels)]
        if len(bad):
            reasons.append(f"{len(bad)} rows with labels outside 0..{n_labels - 1}")
        duplicates = float(texts.duplicated().mean()) if len(texts) else 0.0
        if duplicates > MAX_DUPLICATE_SHARE:
            reasons.append(f"{duplicates:.1%} duplicate texts (> {MAX_DUPLICATE_SHARE:.0%})")
        return ValidateDatasetOutput(
            task=params.task,
            dataset_hash=frame_hash(data),
            rows=rows,
            passed=not reasons,
            reasons=reasons,
        )

    return await asyncio.to_thread(work)


SPEC = ToolSpec(
    name="validate_dataset",
    input_model=ValidateDatasetInput,
    output_model=ValidateDatasetOutput,
    run=validate_dataset,
    timeout_seconds=600,
)
