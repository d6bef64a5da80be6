"""feedback_accuracy: how often the model behind an alias was right, by the labels people gave
its answers since (application feedback and resolved labelling items)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentimentops.core.vocabulary import Alias, Task
from sentimentops.labeling.models import Feedback, LabelingAssignment, LabelingItem, LabelingProject
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec
from sentimentops.tools.evaluate_model import GATES_PACKAGE

# labeling/service.py's statuses: an item whose label is decided, an annotator's answer.
_RESOLVED = "resolved"
_DONE = "done"


class FeedbackAccuracyInput(ToolInput):
    task: Task
    alias: Alias = "production"
    window_seconds: float = Field(
        default=7 * 86_400.0,
        gt=0,
        le=90 * 86_400,
        description="labels given in this many seconds before now (labels come in slowly)",
    )


class FeedbackAccuracyOutput(ToolOutput):
    task: str
    alias: str
    # The version behind the alias now; None when the alias points nowhere.
    model_version: str | None
    since: datetime
    until: datetime
    # Distinct texts the version answered whose right label is known, and how many it got right.
    labelled: int
    correct: int
    from_feedback: int
    from_labeling: int
    accuracy: float | None
    # The gate verdict plan steps read (`gate: true`); the sentry's check plan rolls back on it.
    passed: bool
    reasons: list[str]
    # False when fewer than `min_volume` texts were labelled: `passed` then means "cannot tell".
    enough_feedback: bool
    min_volume: int
    min_accuracy: float


@dataclass(frozen=True)
class _Labelled:
    truth: dict[str, str]  # text hash → the right label
    predicted: dict[str, str]  # text hash → the version's answer
    from_feedback: int
    from_labeling: int


def _agreed(pairs: list[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    """text hash → (truth, answer) for texts whose rows agree on the right label; a text labelled
    two ways has no single right label and is left out."""
    found: dict[str, set[tuple[str, str]]] = {}
    for digest, truth, answer in pairs:
        found.setdefault(digest, set()).add((truth, answer))
    out: dict[str, tuple[str, str]] = {}
    for digest, values in found.items():
        truths = {t for t, _ in values}
        if len(truths) == 1:
            out[digest] = min(values)
    return out


def _labelled(
    session: Session, *, tenant_id: str, task: str, version: str, since: datetime, until: datetime
) -> _Labelled:
    """The version's answers with a known right label, one per text. A text a labelling
    project resolved takes the project's label (reviewed by people) over feedback (one
    application's say), as the analytics API does."""
    answered = (
        select(
            LabelingAssignment.item_id.label("item_id"),
            func.max(LabelingAssignment.updated_at).label("answered_at"),
        )
        .where(LabelingAssignment.tenant_id == tenant_id, LabelingAssignment.status == _DONE)
        .group_by(LabelingAssignment.item_id)
        .subquery("answered")
    )
    items = session.execute(
        select(LabelingItem.text_sha256, LabelingItem.resolved_label, LabelingItem.predicted_label)
        .join(LabelingProject, LabelingProject.id == LabelingItem.project_id)
        .join(answered, answered.c.item_id == LabelingItem.id)
        .where(
            LabelingItem.tenant_id == tenant_id,
            LabelingProject.tenant_id == tenant_id,
            LabelingProject.task == task,
            LabelingItem.status == _RESOLVED,
            LabelingItem.resolved_label.is_not(None),
            # Gold items test annotators: their label was known before anyone answered.
            LabelingItem.gold_label.is_(None),
            LabelingItem.model_version == version,
            LabelingItem.predicted_label.is_not(None),
            answered.c.answered_at >= since,
            answered.c.answered_at < until,
        )
    ).all()
    feedback = session.execute(
        select(Feedback.text_sha256, Feedback.label, Feedback.predicted_label).where(
            Feedback.tenant_id == tenant_id,
            Feedback.task == task,
            Feedback.model_version == version,
            # Unlinked feedback does not say what the version answered.
            Feedback.predicted_label.is_not(None),
            Feedback.created_at >= since,
            Feedback.created_at < until,
        )
    ).all()
    by_project = _agreed([(str(d), str(t), str(p)) for d, t, p in items])
    by_feedback = {
        digest: pair
        for digest, pair in _agreed([(str(d), str(t), str(p)) for d, t, p in feedback]).items()
        if digest not in by_project
    }
    merged = {**by_feedback, **by_project}
    return _Labelled(
        truth={d: t for d, (t, _) in merged.items()},
        predicted={d: p for d, (_, p) in merged.items()},
        from_feedback=len(by_feedback),
        from_labeling=len(by_project),
    )


async def feedback_accuracy(
    ctx: ToolContext, params: FeedbackAccuracyInput
) -> FeedbackAccuracyOutput:
    """Rolling accuracy of the model version behind an alias (production by default) for a
    task, on the labels this tenant's applications (feedback) and annotators (resolved
    labelling items) gave its answers in the last `window_seconds`, one per distinct text.
    `passed` comes from the feedback thresholds of policy (minimum accuracy; with fewer
    labelled texts than the minimum volume it passes and says so). Read-only."""
    until = datetime.now(UTC)
    since = until - timedelta(seconds=params.window_seconds)

    def work() -> tuple[str | None, _Labelled]:
        found = ctx.registry().version_for_alias(params.task, params.alias)
        if found is None:
            return None, _Labelled({}, {}, 0, 0)
        with ctx.sessions() as session:
            return found.version, _labelled(
                session,
                tenant_id=ctx.tenant_id(session),
                task=params.task,
                version=found.version,
                since=since,
                until=until,
            )

    version, labelled = await asyncio.to_thread(work)
    n = len(labelled.truth)
    correct = sum(1 for d, truth in labelled.truth.items() if labelled.predicted[d] == truth)
    accuracy = correct / n if n else None
    verdict = await ctx.policy.query(
        package=GATES_PACKAGE,
        rule="feedback",
        input_data={
            "labelled": n,
            "accuracy": round(accuracy, 4) if accuracy is not None else None,
        },
    )
    reasons = list(verdict["reasons"])
    if version is None:
        reasons.insert(0, f"{params.task} has no {params.alias} version: nothing to judge")
    return FeedbackAccuracyOutput(
        task=params.task,
        alias=params.alias,
        model_version=version,
        since=since,
        until=until,
        labelled=n,
        correct=correct,
        from_feedback=labelled.from_feedback,
        from_labeling=labelled.from_labeling,
        accuracy=accuracy,
        passed=bool(verdict["passed"]),
        reasons=reasons,
        enough_feedback=bool(verdict["enough_feedback"]),
        min_volume=int(verdict["min_volume"]),
        min_accuracy=float(verdict["min_accuracy"]),
    )


SPEC = ToolSpec(
    name="feedback_accuracy",
    input_model=FeedbackAccuracyInput,
    output_model=FeedbackAccuracyOutput,
    run=feedback_accuracy,
    timeout_seconds=300,
)
