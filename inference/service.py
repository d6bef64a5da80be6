"""Scoring: route a request to the model version that answers it, score through the batcher,
shape predictions, and hand the prediction log its rows. Plain functions over explicit
collaborators; the HTTP and WebSocket handlers stay thin."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from sentimentops.core.errors import InvalidInput, ServiceUnavailable
from sentimentops.core.metrics import Metrics
from sentimentops.inference.prediction_log import FailureRow, PredictionLog, PredictionRow
from sentimentops.inference.runtime.base import Scored
from sentimentops.inference.schemas import ModelRef, Prediction, TokenWeight
from sentimentops.inference.slots import ModelSlots, ServingModel


@dataclass(frozen=True)
class ScoringLimits:
    max_batch_texts: int
    max_text_chars: int
    explain_max_texts: int
    explain_max_tokens: int


@dataclass(frozen=True)
class Scoring:
    """Everything a scoring call needs, built once per app (see inference/wiring.py)."""

    slots: ModelSlots
    prediction_log: PredictionLog
    metrics: Metrics
    limits: ScoringLimits


def check_limits(
    limits: ScoringLimits,
    texts: list[str],
    *,
    explain: bool,
    contexts: Sequence[str | None] = (),
) -> None:
    """The one place the scoring limits (settings) are enforced: the request schema has no
    bounds of its own, so a limit has one value and one message whichever way it is exceeded."""
    if len(texts) > limits.max_batch_texts:
        raise InvalidInput(f"at most {limits.max_batch_texts} texts per request")
    longest = max(len(t) for t in [*texts, *(c for c in contexts if c)])
    if longest > limits.max_text_chars:
        raise InvalidInput(f"texts are limited to {limits.max_text_chars} characters")
    if explain and len(texts) > limits.explain_max_texts:
        raise InvalidInput(f"explanations are limited to {limits.explain_max_texts} texts")


def _predictions(
    model: ServingModel, scored: Scored, explanations: list[list[tuple[str, float]]] | None
) -> list[Prediction]:
    labels = model.scorer.labels
    out = []
    for i, row in enumerate(scored.probabilities):
        best = int(np.argmax(row))
        out.append(
            Prediction(
                label=labels[best],
                probability=float(row[best]),
                scores={label: float(p) for label, p in zip(labels, row, strict=True)},
                in_domain=bool(scored.in_domain[i]),
                model=ModelRef(
                    name=model.name,
                    version=model.version,
                    alias=model.alias,
                    route=scored.routes[i],
                    language=scored.languages[i],
                ),
                explanation=(
                    [TokenWeight(token=t, weight=w) for t, w in explanations[i]]
                    if explanations is not None
                    else None
                ),
            )
        )
    return out


async def score(
    scoring: Scoring,
    *,
    task: str,
    texts: list[str],
    tenant_id: str,
    tenant_label: str,
    route: str,
    explain: bool = False,
    request_key: str | None = None,
    contexts: Sequence[str | None] | None = None,
) -> list[Prediction]:
    """Score `texts` (each with its context turn or None) for `task` on behalf of a tenant;
    the answer names the version, and the component of it, that answered each text."""
    check_limits(scoring.limits, texts, explain=explain, contexts=contexts or ())
    started = time.perf_counter()
    model = scoring.slots.route(task, tenant=tenant_id, request_key=request_key or uuid.uuid4().hex)
    if model is None:
        _failed(scoring, task, texts, tenant_id=tenant_id, route=route, reason="no_model")
        raise ServiceUnavailable(f"no model is serving {task} yet")
    async with model.lease() as leased:
        try:
            scored = await leased.batcher.score(texts, contexts)
            explanations = None
            if explain:
                max_tokens = scoring.limits.explain_max_tokens
                explanations = [
                    await asyncio.to_thread(leased.scorer.explain, t, max_tokens=max_tokens)
                    for t in texts
                ]
            predictions = _predictions(leased, scored, explanations)
        except Exception:
            _failed(
                scoring,
                task,
                texts,
                tenant_id=tenant_id,
                route=route,
                reason="runtime_error",
                model=leased,
            )
            raise
    elapsed = time.perf_counter() - started
    scoring.metrics.latency.labels(route, tenant_label, leased.label).observe(elapsed)
    _log(scoring, leased, texts, predictions, tenant_id=tenant_id, seconds=elapsed)
    return predictions


def _failed(
    scoring: Scoring,
    task: str,
    texts: list[str],
    *,
    tenant_id: str,
    route: str,
    reason: str,
    model: ServingModel | None = None,
) -> None:
    """Count a request the service could not answer, in the metrics and the failure log (which
    the sentry's and the soak's error rate read)."""
    scoring.metrics.errors.labels(route, reason).inc()
    scoring.prediction_log.add(
        [
            FailureRow(
                tenant_id=tenant_id,
                created_at=datetime.now(UTC),
                task=task,
                model_version=model.version if model is not None else None,
                model_alias=model.alias if model is not None else None,
                reason=reason,
                texts=len(texts),
            )
        ]
    )


def _log(
    scoring: Scoring,
    model: ServingModel,
    texts: list[str],
    predictions: list[Prediction],
    *,
    tenant_id: str,
    seconds: float,
) -> None:
    now = datetime.now(UTC)
    latency_ms = seconds * 1000 / len(texts)
    rows = []
    for text, p in zip(texts, predictions, strict=True):
        scoring.metrics.predictions.labels(model.task, model.label, p.label).inc()
        rows.append(
            PredictionRow(
                tenant_id=tenant_id,
                created_at=now,
                task=model.task,
                model_name=model.name,
                model_version=model.version,
                model_alias=model.alias,
                label=p.label,
                probability=p.probability,
                latency_ms=latency_ms,
                text_sha256=hashlib.sha256(text.encode()).hexdigest(),
                text_chars=len(text),
                # Dropped by the log writer unless the tenant opted in (looked up off the
                # request path, in the writer's thread).
                text=text,
            )
        )
    scoring.prediction_log.add(rows)
