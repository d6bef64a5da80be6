"""Failed scoring requests reach the failure log (the error rate's numerator) off the request
path, with their reason; client errors do not count as failures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from sentimentops.app import schema
from sentimentops.core import db
from sentimentops.core.errors import InvalidInput, ServiceUnavailable
from sentimentops.core.metrics import Metrics
from sentimentops.identity import service as identity
from sentimentops.inference import service
from sentimentops.inference.batching import MicroBatcher
from sentimentops.inference.models import PredictionRecord, ScoringFailure
from sentimentops.inference.runtime.base import Contexts, FloatArray, Scored
from sentimentops.inference.slots import ServingModel
from sentimentops.inference.wiring import build_scoring
from tests.identity.conftest import make_settings


class Fragile:
    """Scores like a model until it meets the word "boom" (a runtime fault mid-traffic)."""

    labels = ("negative", "positive")

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
        if any("boom" in t for t in texts):
            raise RuntimeError("onnxruntime: bad allocation")
        return np.tile([0.3, 0.7], (len(texts), 1))

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored:
        return Scored.single(self.predict_proba(texts, contexts), np.ones(len(texts), dtype=bool))

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
        return []


async def test_failures_are_logged_with_reason_and_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    schema.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    with db.transaction(sessions) as session:
        tenant_id = identity.create_tenant(session, actor="test", slug="acme").id
    metrics = Metrics()
    scoring = build_scoring(make_settings(url, tmp_path), sessions, metrics)
    scorer = Fragile()
    await scoring.slots.install(
        ServingModel(
            task="sentiment",
            name="sentiment",
            version="7",
            alias="production",
            scorer=scorer,
            batcher=MicroBatcher(scorer.score, n_labels=2),
        )
    )
    call: dict[str, Any] = {
        "tenant_id": tenant_id,
        "tenant_label": "acme",
        "route": "/api/v1/sentiment",
    }

    await service.score(scoring, task="sentiment", texts=["fine", "good"], **call)
    with pytest.raises(RuntimeError, match="bad allocation"):
        await service.score(scoring, task="sentiment", texts=["boom", "x", "y"], **call)
    with pytest.raises(ServiceUnavailable):
        await service.score(scoring, task="sarcasm", texts=["no model here"], **call)
    with pytest.raises(InvalidInput):  # the caller's mistake, not the service's
        await service.score(scoring, task="sentiment", texts=["x" * 10**6], **call)
    await scoring.prediction_log.flush()
    await scoring.slots.close()

    with sessions() as session:
        failures = session.execute(
            select(
                ScoringFailure.task,
                ScoringFailure.model_version,
                ScoringFailure.model_alias,
                ScoringFailure.reason,
                ScoringFailure.texts,
            )
            .where(ScoringFailure.tenant_id == tenant_id)
            .order_by(ScoringFailure.id)
        ).all()
        answered = session.execute(select(PredictionRecord.model_version)).scalars().all()
    assert failures == [
        ("sentiment", "7", "production", "runtime_error", 3),
        ("sarcasm", None, None, "no_model", 1),
    ]
    assert answered == ["7", "7"]
    errors = {
        sample.labels["reason"]: sample.value
        for metric in metrics.errors.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert errors == {"runtime_error": 1.0, "no_model": 1.0}
