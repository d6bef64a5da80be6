"""Feedback accuracy as a sentry signal: the feedback_accuracy tool against the real database,
MLflow registry and OPA (its verdict from data.json), and the deployment sentry on the real
Temporal dev server rolling production back when its answers are mostly wrong."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.agents.sentry_agent import facts_from_check
from sentimentops.core.db import transaction
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.identity import service as identity
from sentimentops.identity.models import Tenant
from sentimentops.labeling.models import (
    Feedback,
    LabelingAssignment,
    LabelingItem,
    LabelingProject,
)
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.tools.feedback_accuracy import FeedbackAccuracyOutput
from tests.inference.registry import register
from tests.workflows.conftest import TENANT, Platform, platform_settings
from tests.workflows.test_sentry import TASK, _run_one_check, _traffic, _two_production_versions

RIGHT, WRONG = "sarcastic", "not_sarcastic"


@dataclass(frozen=True)
class Answer:
    """One answer of a model version and the label a person gave it."""

    text: str
    predicted: str
    truth: str
    version: str


def answers(version: str, *, right: int, wrong: int, prefix: str = "t") -> list[Answer]:
    return [
        Answer(f"{prefix}-{i}", RIGHT, RIGHT if i < right else WRONG, version)
        for i in range(right + wrong)
    ]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add_feedback(
    sessions: sessionmaker[Session], tenant: Tenant, given: Sequence[Answer], *, ago: timedelta
) -> None:
    """Feedback rows as labeling's submit_feedback stores them once linked to the answer."""
    with transaction(sessions) as session:
        session.add_all(
            Feedback(
                id=uuid.uuid4().hex,
                tenant_id=tenant.id,
                idempotency_key=uuid.uuid4().hex,
                task=TASK,
                label=a.truth,
                text_sha256=_sha(a.text),
                text=None,
                request_id=None,
                prediction_id=None,
                model_version=a.version,
                predicted_label=a.predicted,
                submitted_by="service:app",
                created_at=datetime.now(UTC) - ago,
            )
            for a in given
        )


def add_resolved_items(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    given: Sequence[Answer],
    *,
    ago: timedelta,
    gold: bool = False,
) -> None:
    """A labelling project whose items carry the version's answer and were resolved by an
    annotator's answer `ago` before now."""
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        project = LabelingProject(
            id=uuid.uuid4().hex,
            tenant_id=tenant.id,
            name="recent answers",
            task=TASK,
            labels=[WRONG, RIGHT],
            guidelines="",
            annotators=["ann"],
            items_per_annotator=None,
            overlap=1,
            order="uncertainty",
            drift_window_hours=24,
            source_kind="predictions",
            source_dataset_id=None,
            item_count=len(given),
            created_by="test",
            created_at=now - ago,
            exports=[],
        )
        session.add(project)
        session.flush()
        for position, a in enumerate(given):
            item = LabelingItem(
                id=uuid.uuid4().hex,
                tenant_id=tenant.id,
                project_id=project.id,
                position=position,
                text=a.text,
                text_sha256=_sha(a.text),
                source_ref=str(position),
                source_label=None,
                gold_label=a.truth if gold else None,
                model_version=a.version,
                predicted_label=a.predicted,
                margin=None,
                disagreement=False,
                disagreement_note=None,
                observed_at=now - ago,
                suspected_error=None,
                status="resolved",
                resolved_label=a.truth,
                resolved_by="agreement",
            )
            session.add(item)
            session.flush()
            session.add(
                LabelingAssignment(
                    tenant_id=tenant.id,
                    project_id=project.id,
                    item_id=item.id,
                    annotator="ann",
                    slot=0,
                    status="done",
                    locked_until=now - ago,
                    label=a.truth,
                    note=None,
                    time_spent_ms=900,
                    updated_at=now - ago,
                )
            )


class Tool:
    """feedback_accuracy called directly, as a worker calls it, for one tenant."""

    def __init__(
        self, tmp_path: Path, sessions: sessionmaker[Session], opa_url: str, tenant: Tenant
    ) -> None:
        self.settings = platform_settings(tmp_path)
        self.uri = self.settings.resolved_mlflow_tracking_uri
        self.ctx = ToolContext(
            settings=self.settings,
            sessions=sessions,
            policy=OpaPolicyEngine(opa_url),
            registry=lambda: MlflowRegistry(self.uri),
            tenant=tenant.slug,
            actor="alice",
        )
        self.artifact = tmp_path / "artifact"
        self.artifact.mkdir(exist_ok=True)
        (self.artifact / "model.json").write_text(json.dumps({"format": "test"}))

    def register(self, alias: str) -> str:
        return register(self.uri, TASK, self.artifact, alias)

    async def __call__(self, **params: object) -> FeedbackAccuracyOutput:
        out = await TOOLS["feedback_accuracy"].call(self.ctx, {"task": TASK, **params})
        assert isinstance(out, FeedbackAccuracyOutput)
        return out


def _tenant(sessions: sessionmaker[Session], slug: str = TENANT) -> Tenant:
    with transaction(sessions) as session:
        tenant = identity.create_tenant(session, actor="test", slug=slug)
        session.expunge(tenant)
    return tenant


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_accuracy_of_production_on_feedback_and_labelled_items(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    tenant, other = _tenant(app_sessions), _tenant(app_sessions, "globex")
    tool = Tool(tmp_path, app_sessions, opa_url, tenant)
    older = tool.register("staging")
    production = tool.register("production")
    hour = timedelta(hours=1)

    # 27 of 30 feedback answers right, and 9 of 10 labelled items: 90 % on 40 texts.
    add_feedback(app_sessions, tenant, answers(production, right=27, wrong=3), ago=hour)
    add_resolved_items(
        app_sessions, tenant, answers(production, right=9, wrong=1, prefix="item"), ago=hour
    )
    # None of these count: another version's answers, another tenant's feedback, labels given
    # before the window, gold items (their label tests annotators).
    add_feedback(app_sessions, tenant, answers(older, right=0, wrong=50, prefix="old"), ago=hour)
    add_feedback(app_sessions, other, answers(production, right=0, wrong=50), ago=hour)
    add_feedback(
        app_sessions, tenant, answers(production, right=0, wrong=50, prefix="x"), ago=9 * hour
    )
    add_resolved_items(
        app_sessions,
        tenant,
        answers(production, right=0, wrong=20, prefix="gold"),
        ago=hour,
        gold=True,
    )

    out = await tool(window_seconds=8 * 3600)

    assert out.model_version == production
    assert (out.labelled, out.correct) == (40, 36)
    assert (out.from_feedback, out.from_labeling) == (30, 10)
    assert out.accuracy == pytest.approx(0.9)
    assert (out.passed, out.enough_feedback, out.reasons) == (True, True, [])
    assert (out.min_volume, out.min_accuracy) == (30, 0.6)

    # A project's label wins over feedback on the same text: annotators found the three answers
    # feedback called wrong (t-27 … t-29) right after all.
    add_resolved_items(
        app_sessions,
        tenant,
        [Answer(f"t-{i}", RIGHT, RIGHT, production) for i in (27, 28, 29)],
        ago=hour,
    )
    corrected = await tool(window_seconds=8 * 3600)
    assert (corrected.labelled, corrected.correct) == (40, 39)
    assert (corrected.from_feedback, corrected.from_labeling) == (27, 13)


async def test_half_wrong_fails_and_too_little_feedback_passes_with_a_reason(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    tenant = _tenant(app_sessions)
    tool = Tool(tmp_path, app_sessions, opa_url, tenant)

    nothing = await tool()
    assert (nothing.model_version, nothing.passed, nothing.enough_feedback) == (None, True, False)
    assert nothing.reasons[0] == "sarcasm has no production version: nothing to judge"

    production = tool.register("production")
    add_feedback(app_sessions, tenant, answers(production, right=5, wrong=5), ago=timedelta(0))
    few = await tool()
    assert (few.labelled, few.accuracy, few.passed, few.enough_feedback) == (10, 0.5, True, False)
    assert few.reasons == [
        "only 10 labelled answers in the window; at least 30 needed to judge accuracy"
    ]

    add_feedback(
        app_sessions,
        tenant,
        answers(production, right=15, wrong=15, prefix="more"),
        ago=timedelta(0),
    )
    half = await tool()
    assert (half.labelled, half.correct, half.passed) == (40, 20, False)
    assert half.reasons == ["accuracy on 40 labelled answers is 0.5 (< 0.6)"]


@pytest.mark.parametrize(("right", "rolled_back"), [(36, False), (20, True)])
async def test_the_sentry_rolls_production_back_when_feedback_says_it_is_wrong(
    platform: Platform, right: int, rolled_back: bool
) -> None:
    first, second = _two_production_versions(platform)
    _traffic(platform, second, latency_ms=3.0)  # latency, errors and drift all within the gates
    add_feedback(
        platform.sessions,
        platform.tenant,
        answers(second, right=right, wrong=40 - right),
        ago=timedelta(minutes=5),
    )

    status = await _run_one_check(platform)

    if rolled_back:  # 50 % right
        assert (status.rollbacks, status.last_status) == (1, "gate_failed")
        assert "accuracy on 40 labelled answers is 0.5 (< 0.6)" in status.last_message
        assert platform.alias("production") == first
        # The incident the Deployment Sentry agent writes names the failed gate's reason.
        assert status.last_check is not None
        facts = facts_from_check(
            tenant=TENANT,
            task="sarcasm",  # TASK, as the Task literal
            check_id=status.last_check,
            checked_at=datetime.now(UTC),
            window_seconds=600,
            progress=await platform.progress(status.last_check),
        )
        assert facts.reasons == ["accuracy on 40 labelled answers is 0.5 (< 0.6)"]
        assert facts.rolled_back
    else:  # 90 % right
        assert (status.rollbacks, status.last_status) == (0, "completed")
        assert platform.alias("production") == second
