"""Active-learning order: the signals that place an item in the queue, the queue's ORDER BY for
each order a project may choose, and the `why` shown with each item.

Signals come from the prediction log's stored probabilities first: the margin of the
production model (for two labels, |2p − 1| where p is the probability of the label it gave;
texts the log never saw are scored by the API process's production model instead, not
logged), disagreement between the versions that scored the same text (production against a
canary or candidate), when the text was scored (the drift window), and a suspected-label-error
score written by an external finder (the Data Curation agent). Orders fall back to the margin,
then the source's order, where their own signal is missing."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from sentimentops.identity.keys import as_utc
from sentimentops.inference.models import PredictionRecord
from sentimentops.labeling.models import LabelingItem

if TYPE_CHECKING:
    from sentimentops.inference.service import Scoring

PRODUCTION = "production"
# Hashes per IN (…) query: well under every backend's bound-parameter limit.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Signals:
    model_version: str | None = None
    predicted_label: str | None = None
    margin: float | None = None
    disagreement: bool = False
    disagreement_note: str | None = None
    observed_at: datetime | None = None


NO_SIGNALS = Signals()


@dataclass(frozen=True)
class Candidate:
    """A text a project will hold, with its signals, before it becomes an item."""

    text: str
    digest: str
    source_ref: str
    source_label: str | None = None
    gold_label: str | None = None
    signals: Signals = NO_SIGNALS


def margin_of(probability: float) -> float:
    """p(top) − p(second) of a two-label model, from the probability of the label it gave."""
    return abs(2.0 * probability - 1.0)


def signals_of(rows: Sequence[PredictionRecord]) -> Signals:
    """The signals of one text from its logged predictions (any order): the newest production
    answer gives the margin (the newest answer of any alias when production never scored it);
    versions whose newest answers differ are a disagreement."""
    if not rows:
        return NO_SIGNALS
    newest = sorted(rows, key=lambda r: as_utc(r.created_at), reverse=True)
    production = [r for r in newest if r.model_alias == PRODUCTION]
    chosen = (production or newest)[0]
    by_version: dict[str, PredictionRecord] = {}
    for row in newest:
        by_version.setdefault(row.model_version, row)
    disagreement = len({r.label for r in by_version.values()}) > 1
    note = None
    if disagreement:
        named = ", ".join(f"{v} ({r.model_alias})" for v, r in sorted(by_version.items()))
        note = f"model versions {named} gave different labels"
    return Signals(
        model_version=chosen.model_version,
        predicted_label=chosen.label,
        margin=margin_of(chosen.probability),
        disagreement=disagreement,
        disagreement_note=note,
        observed_at=as_utc(newest[0].created_at),
    )


def scored_signals(
    signals: Signals, *, version: str, labels: Sequence[str], probabilities: Sequence[float]
) -> Signals:
    """`signals` with the answer of a model scoring the text now: its label, and the margin
    between its two most probable labels."""
    ranked = sorted(range(len(labels)), key=lambda i: probabilities[i], reverse=True)
    top, second = ranked[0], ranked[1]
    return dataclasses.replace(
        signals,
        model_version=version,
        predicted_label=labels[top],
        margin=float(probabilities[top] - probabilities[second]),
    )


async def score_unscored(
    scoring: Scoring, *, task: str, candidates: list[Candidate]
) -> list[Candidate]:
    """Candidates the prediction log holds no answer for, scored now by the production model of
    this process (through its batcher, not logged: this is not traffic), in batches of the
    scoring limit. Unchanged when no production model serves `task`."""
    missing = [i for i, c in enumerate(candidates) if c.signals.margin is None]
    model = scoring.slots.get(task, PRODUCTION)
    if not missing or model is None:
        return candidates
    out = list(candidates)
    batch = scoring.limits.max_batch_texts
    async with model.lease() as leased:
        labels = list(leased.scorer.labels)
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            scored = await leased.batcher.score([candidates[i].text for i in chunk])
            for i, row in zip(chunk, scored.probabilities.tolist(), strict=True):
                signals = scored_signals(
                    out[i].signals, version=leased.version, labels=labels, probabilities=row
                )
                out[i] = dataclasses.replace(out[i], signals=signals)
    return out


def latest_rows(
    session: Session, *, tenant_id: str, task: str, hashes: Iterable[str]
) -> dict[str, list[PredictionRecord]]:
    """Per text hash, the newest logged prediction of each (version, alias) that scored it: a
    text scored a million times still costs one row per version here."""
    wanted = sorted(set(hashes))
    found: dict[str, list[PredictionRecord]] = defaultdict(list)
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        newest = (
            select(func.max(PredictionRecord.id))
            .where(
                PredictionRecord.tenant_id == tenant_id,
                PredictionRecord.task == task,
                PredictionRecord.text_sha256.in_(wanted[start : start + LOOKUP_CHUNK]),
            )
            .group_by(
                PredictionRecord.text_sha256,
                PredictionRecord.model_version,
                PredictionRecord.model_alias,
            )
        )
        ids = list(session.execute(newest).scalars())
        rows = select(PredictionRecord).where(PredictionRecord.id.in_(ids))
        for row in session.execute(rows).scalars():
            found[row.text_sha256].append(row)
    return found


def lookup(
    session: Session, *, tenant_id: str, task: str, hashes: Iterable[str]
) -> dict[str, Signals]:
    """Signals per text hash from the tenant's prediction log (hashes never scored are absent)."""
    rows = latest_rows(session, tenant_id=tenant_id, task=task, hashes=hashes)
    return {digest: signals_of(found) for digest, found in rows.items()}


def _margin_first() -> list[ColumnElement[Any]]:
    return [LabelingItem.margin.asc().nulls_last(), LabelingItem.position.asc()]


def order_by(order: str, *, window_start: datetime) -> list[ColumnElement[Any]]:
    """The queue's ORDER BY for a project's order (most useful item first)."""
    if order == "disagreement":
        return [LabelingItem.disagreement.desc(), *_margin_first()]
    if order == "drift":
        recent = case((LabelingItem.observed_at >= window_start, 0), else_=1)
        return [recent, *_margin_first()]
    if order == "suspected_error":
        return [LabelingItem.suspected_error.desc().nulls_last(), *_margin_first()]
    if order == "source":
        return [LabelingItem.position.asc()]
    return _margin_first()  # uncertainty


def _uncertainty(item: LabelingItem) -> str:
    if item.margin is None:
        return "no model score for this text: in the source's order"
    return (
        f"uncertainty: model version {item.model_version} separated the labels by a margin "
        f"of {item.margin:.2f} (smaller is less sure)"
    )


def why(item: LabelingItem, *, order: str, window_start: datetime, window_hours: int) -> str:
    """Which signal put the item where it is, in words. Never names a label: neither the model's
    answer nor a gold label may anchor the annotator."""
    if order == "source":
        return f"source order: item {item.position + 1}"
    if order == "disagreement" and item.disagreement:
        return f"disagreement: {item.disagreement_note}"
    if order == "drift" and item.observed_at is not None:
        seen = as_utc(item.observed_at)
        if seen >= window_start:
            return (
                f"drift window: scored {seen:%Y-%m-%d %H:%M} UTC, within the last {window_hours} h"
            )
    if order == "suspected_error" and item.suspected_error is not None:
        return f"suspected label error: score {item.suspected_error:.2f}"
    return _uncertainty(item)


def window_start_of(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)
