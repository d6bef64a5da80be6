"""Building the scoring service's collaborators for one application instance."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.metrics import Metrics
from sentimentops.core.model_registry import MlflowRegistry, ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.identity.models import Tenant
from sentimentops.inference.prediction_log import PredictionLog
from sentimentops.inference.service import Scoring, ScoringLimits
from sentimentops.inference.slots import ModelSlots
from sentimentops.inference.watcher import ModelWatcher

TEXT_OPT_IN_CACHE_SECONDS = 30.0


def tenant_text_opt_in(sessions: sessionmaker[Session]) -> Callable[[str], bool]:
    """Which tenants store prediction texts, cached briefly (called by the log writer)."""
    cache: dict[str, tuple[float, bool]] = {}

    def stores_texts(tenant_id: str) -> bool:
        now = time.monotonic()
        hit = cache.get(tenant_id)
        if hit is not None and now - hit[0] < TEXT_OPT_IN_CACHE_SECONDS:
            return hit[1]
        with sessions() as session:
            value = bool(
                session.execute(
                    select(Tenant.store_prediction_texts).where(Tenant.id == tenant_id)
                ).scalar()
            )
        cache[tenant_id] = (now, value)
        return value

    return stores_texts


def serving_registry(settings: Settings) -> ModelRegistry:
    """Where served models come from: the model pack named by settings.serving_model_pack
    (scoring-only installs, no MLflow), else the MLflow registry, read only."""
    if settings.serving_model_pack is not None:
        from sentimentops.inference.packs import PackRegistry

        return PackRegistry(settings.serving_model_pack)
    return MlflowRegistry(settings.resolved_mlflow_tracking_uri, read_only=True)


def build_scoring(settings: Settings, sessions: sessionmaker[Session], metrics: Metrics) -> Scoring:
    return Scoring(
        slots=ModelSlots(),
        prediction_log=PredictionLog(
            sessions,
            stores_texts=tenant_text_opt_in(sessions),
            on_drop=metrics.prediction_log_dropped.inc,
        ),
        metrics=metrics,
        limits=ScoringLimits(
            max_batch_texts=settings.max_batch_texts,
            max_text_chars=settings.max_text_chars,
            explain_max_texts=settings.explain_max_texts,
            explain_max_tokens=settings.explain_max_tokens,
        ),
    )


def build_watcher(
    settings: Settings,
    scoring: Scoring,
    sessions: sessionmaker[Session],
    registry: ModelRegistry | None = None,
) -> ModelWatcher:
    return ModelWatcher(
        registry=registry or serving_registry(settings),
        slots=scoring.slots,
        tasks=list(settings.serving_tasks),
        cache_dir=settings.data_dir / "model-cache",
        sessions=sessions,
        metrics=scoring.metrics,
        batch_max_size=settings.batch_max_size,
        batch_max_wait_ms=settings.batch_max_wait_ms,
        ort_threads=settings.ort_threads,
    )
