"""Data curation flows: one user-level action each, shared by the API and the CLI. Each checks
its named permission first.

`curate_dataset_flow` is the Data Curation agent's run over one dataset version: it validates the
version (Great Expectations), compares it with the previous version and opens a data issue on
drift (told through the notifier), ranks likely label errors (confident learning), fills the
suspected-error score of the tenant's labeling items over the version, and lets the agent write
its report and relabeling proposal into a thread (a draft a person submits and a human
approves). Slow work (k-fold fits, seconds to a minute) runs off the event loop; the CLI calls
it, and the API does not (slow work belongs in a workflow, not a request)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from sentimentops.core.errors import InvalidInput
from sentimentops.core.flows import FlowContext
from sentimentops.core.logging import get_logger
from sentimentops.curation import permissions
from sentimentops.curation.schemas import CurationReport, DataIssueOut, Drift, Suspect
from sentimentops.identity.keys import utcnow
from sentimentops.identity.principal import Principal

if TYPE_CHECKING:
    import pandas as pd

    from sentimentops.approvals.notifier import Notifier
    from sentimentops.core.model_registry import ModelRegistry
    from sentimentops.core.policy import PolicyEngine
    from sentimentops.training.datasets.schemas import ValidationReport

log = get_logger(__name__)


async def list_issues_flow(
    ctx: FlowContext, principal: Principal, *, status: str | None, limit: int
) -> list[DataIssueOut]:
    permissions.can_read_issues(principal)
    from sentimentops.curation import service

    def read(session: Session) -> list[DataIssueOut]:
        rows = service.list_issues(session, principal=principal, status=status, limit=limit)
        return [DataIssueOut.model_validate(r) for r in rows]

    return await ctx.read(read)


async def get_issue_flow(ctx: FlowContext, principal: Principal, issue_id: str) -> DataIssueOut:
    permissions.can_read_issues(principal)
    from sentimentops.curation import service

    def read(session: Session) -> DataIssueOut:
        issue = service.get_issue(session, principal=principal, issue_id=issue_id)
        return DataIssueOut.model_validate(issue)

    return await ctx.read(read)


@dataclass(frozen=True)
class _Loaded:
    version_id: str
    name: str
    task: str
    frame: pd.DataFrame
    drift: Drift | None


def _suspects(frame: pd.DataFrame, task: str, *, cap: int) -> tuple[list[Suspect], str | None]:
    from sentimentops.training.curation import suspected_label_errors
    from sentimentops.training.reference_data import LABEL_NAMES

    names = LABEL_NAMES[task]
    try:
        found = suspected_label_errors(
            frame["id"].astype(str).tolist(),
            frame["text"].astype(str).tolist(),
            frame["label"].astype("int64").tolist(),
            n_classes=len(names),
        )
    except InvalidInput as exc:  # too few rows of some label for k-fold probabilities
        return [], str(exc)
    return [
        Suspect(
            row_id=s.row_id,
            text_sha256=s.text_sha256,
            given_label=names[s.given_label],
            suggested_label=names[s.suggested_label],
            score=s.score,
        )
        for s in found[:cap]
    ], None


def _validate(ctx: FlowContext, frame: pd.DataFrame, task: str) -> ValidationReport:
    from sentimentops.training.datasets.validation import rules_from, validate_frame

    return validate_frame(frame, task=task, rules=rules_from(ctx.settings))


async def curate_dataset_flow(
    ctx: FlowContext,
    principal: Principal,
    dataset_version_id: str,
    *,
    notifier: Notifier | None = None,
    annotators: Sequence[str] = (),
    policy: PolicyEngine | None = None,
    registry: Callable[[], ModelRegistry] | None = None,
    propose: bool = True,
) -> CurationReport:
    """Curate one dataset version (see the module docstring). `annotators` label a proposed
    relabeling project (default: the caller); without `propose` no agent thread is written."""
    permissions.can_curate(principal)
    from sentimentops.curation import service
    from sentimentops.training.datasets import service as datasets

    settings = ctx.settings

    def load(session: Session) -> _Loaded:
        version = datasets.get_version(
            session, tenant_id=principal.tenant_id, ref=dataset_version_id
        )
        previous = service.previous_version(session, version=version)
        drift = (
            service.compare(
                previous, version, threshold_points=settings.curation_label_drift_points
            )
            if previous is not None
            else None
        )
        return _Loaded(
            version.id, version.name, version.task, datasets.load_frame(settings, version), drift
        )

    loaded = await ctx.read(load)
    report = await asyncio.to_thread(_validate, ctx, loaded.frame, loaded.task)
    suspects, note = await asyncio.to_thread(
        _suspects, loaded.frame, loaded.task, cap=settings.curation_max_relabel_items
    )
    now = utcnow()

    def write(session: Session) -> tuple[DataIssueOut | None, bool, int]:
        version = datasets.get_version(
            session, tenant_id=principal.tenant_id, ref=loaded.version_id
        )
        issue, opened = None, False
        if loaded.drift is not None and loaded.drift.kinds:
            row, opened = service.open_issue(
                session, principal=principal, version=version, drift=loaded.drift, now=now
            )
            issue = DataIssueOut.model_validate(row)
        prioritised = service.prioritise(
            session, principal=principal, version=version, suspects=suspects
        )
        return issue, opened, prioritised

    issue, opened, prioritised = await ctx.write(write)
    result = CurationReport(
        dataset_version_id=loaded.version_id,
        task=loaded.task,
        rows=len(loaded.frame),
        validation_passed=report.success,
        validation_failures=service.validation_sentences(report),
        drift=loaded.drift,
        issue=issue,
        suspects=suspects,
        suspects_note=note,
        prioritised_items=prioritised,
    )
    if propose:
        thread_id, draft_hash = await _agent_thread(
            ctx,
            principal,
            result,
            name=loaded.name,
            annotators=list(annotators) or [principal.subject],
            policy=policy,
            registry=registry,
        )
        result.thread_id, result.draft_plan_hash = thread_id, draft_hash
    if issue is not None and opened and notifier is not None:
        from sentimentops.approvals.notifier import DataIssueNotice

        notice = DataIssueNotice(
            tenant=principal.tenant,
            issue_id=issue.id,
            dataset_version_id=issue.dataset_version_id,
            task=issue.task,
            kinds=issue.kinds,
            summary=issue.summary[:4000],
            thread_id=result.thread_id,
        )
        try:
            await notifier.notify(notice)
        except Exception as exc:  # noqa: BLE001 - the issue is stored and listed either way
            result.notice_error = str(exc)[:500]
            log.warning("data_issue.notify_failed", issue_id=issue.id, error=result.notice_error)
    return result


async def _agent_thread(
    ctx: FlowContext,
    principal: Principal,
    result: CurationReport,
    *,
    name: str,
    annotators: list[str],
    policy: PolicyEngine | None,
    registry: Callable[[], ModelRegistry] | None,
) -> tuple[str, str | None]:
    """The Data Curation agent's thread for this run: its report, and its proposal as a draft."""
    from sentimentops.agents.curation_agent import (
        CurationFacts,
        SuspectFact,
        curation_thread_id,
        facts_message,
    )
    from sentimentops.agents.flows import incident_thread_flow
    from sentimentops.agents.wiring import open_agent_runtime
    from sentimentops.curation import service

    if registry is None:
        from sentimentops.core.model_registry import MlflowRegistry

        found = MlflowRegistry(ctx.settings.resolved_mlflow_tracking_uri)

        def registry() -> ModelRegistry:
            return found

    drift = result.drift
    facts = CurationFacts(
        tenant=principal.tenant,
        dataset_version_id=result.dataset_version_id,
        dataset_name=name,
        task=result.task,
        rows=result.rows,
        validation_passed=result.validation_passed,
        validation_failures=result.validation_failures[:50],
        previous_version_id=drift.previous_version_id if drift is not None else None,
        drift=service.drift_sentences(drift)[:50] if drift is not None else [],
        issue_id=result.issue.id if result.issue is not None else None,
        suspects=[
            SuspectFact(
                row_id=s.row_id,
                given_label=s.given_label,
                suggested_label=s.suggested_label,
                score=s.score,
            )
            for s in result.suspects
        ],
        suspects_note=result.suspects_note,
        prioritised_items=result.prioritised_items,
        annotators=annotators,
    )
    async with open_agent_runtime(ctx, registry=registry, policy=policy) as rt:
        thread, _events = await incident_thread_flow(
            rt,
            tenant=principal.tenant,
            tenant_id=principal.tenant_id,
            thread_id=curation_thread_id(result.dataset_version_id, uuid.uuid4().hex),
            title=f"Curation: {name} version {result.dataset_version_id}"[:200],
            facts=facts_message(facts),
            agent="data-curation",
            # The person who ran the curation asked for its proposal: they submit it, and
            # someone else approves it.
            requested_by=principal.actor,
        )
    return thread.id, thread.draft.plan_hash if thread.draft is not None else None
