"""The deployment sentry against the real Temporal dev server, OPA, MLflow and the database:
a breach of the service gates rolls production back one version without waiting; healthy
traffic changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.db import transaction
from sentimentops.inference.models import PredictionRecord, ScoringFailure
from sentimentops.tools import promotions
from sentimentops.workflows.client import sentry_status, start_sentry
from sentimentops.workflows.schemas import SENTRY_SUBJECT
from sentimentops.workflows.sentry import SentryStatus
from tests.workflows.conftest import Platform

TASK = "sarcasm"


def _two_production_versions(platform: Platform) -> tuple[str, str]:
    first, second = platform.register_version(TASK), platform.register_version(TASK)
    with transaction(platform.sessions) as session:
        for version in (first, second):
            promotions.promote(
                session,
                platform.registry,
                model_name=TASK,
                version=version,
                alias="production",
                actor="test",
                tenant=platform.tenant.slug,
            )
    assert platform.alias("production") == second
    return first, second


def _traffic(
    platform: Platform,
    version: str,
    *,
    latency_ms: float,
    n: int = 20,
    label: str = "sarcastic",
    probability: float = 0.9,
    ago: timedelta = timedelta(0),
) -> None:
    with transaction(platform.sessions) as session:
        session.add_all(
            PredictionRecord(
                tenant_id=platform.tenant.id,
                created_at=datetime.now(UTC) - ago,
                task=TASK,
                model_name=TASK,
                model_version=version,
                model_alias="production",
                label=label,
                probability=probability,
                latency_ms=latency_ms,
                text_sha256=uuid.uuid4().hex * 2,
                text_chars=40,
                text=None,
            )
            for _ in range(n)
        )


def _failures(platform: Platform, version: str, *, texts: int) -> None:
    with transaction(platform.sessions) as session:
        session.add(
            ScoringFailure(
                tenant_id=platform.tenant.id,
                created_at=datetime.now(UTC),
                task=TASK,
                model_version=version,
                model_alias="production",
                reason="runtime_error",
                texts=texts,
            )
        )


async def _run_one_check(platform: Platform) -> SentryStatus:
    workflow_id = await start_sentry(
        platform.client,
        platform.settings,
        tenant=platform.tenant.slug,
        tenant_id=platform.tenant.id,
        task=TASK,
        interval_seconds=1,
        window_seconds=600,
        max_checks=1,
    )
    await platform.client.get_workflow_handle(workflow_id).result()
    return await sentry_status(platform.client, workflow_id)


@pytest.mark.parametrize("breach", ["latency", "errors", "drift"])
async def test_breach_rolls_production_back_one_version(
    platform: Platform, session: Session, breach: str
) -> None:
    first, second = _two_production_versions(platform)
    if breach == "latency":
        _traffic(platform, second, latency_ms=900.0)  # far above the soak gate's P95 bound
    elif breach == "drift":
        # Yesterday: confident "not sarcastic"; now: hesitant "sarcastic" (PSI far above 0.2),
        # with enough traffic in both windows for the drift gate to judge.
        day = timedelta(days=1)
        _traffic(platform, second, latency_ms=3.0, n=60, label="not_sarcastic", ago=day)
        _traffic(platform, second, latency_ms=3.0, n=60, probability=0.55)
    else:
        _traffic(platform, second, latency_ms=3.0)
        _failures(platform, second, texts=2)  # 2 of 22 texts failed: 9 % > the 1 % bound

    status = await _run_one_check(platform)

    assert status.rollbacks == 1
    assert status.last_status == "gate_failed"
    expected = {"errors": "error rate", "latency": "P95 latency", "drift": "PSI"}[breach]
    assert expected in status.last_message
    assert platform.alias("production") == first
    actions = session.execute(
        select(AuditEvent.action, AuditEvent.outcome).where(AuditEvent.actor == SENTRY_SUBJECT)
    ).all()
    # Every decision of the check is audited under the sentry's name, the rollback included.
    assert ("policy.check:rollback_model", "allowed") in actions, actions


async def test_healthy_traffic_changes_nothing(platform: Platform) -> None:
    _first, second = _two_production_versions(platform)
    _traffic(platform, second, latency_ms=3.0)

    status = await _run_one_check(platform)

    assert status.rollbacks == 0
    assert status.last_status == "completed"
    assert platform.alias("production") == second
