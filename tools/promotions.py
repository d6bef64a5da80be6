"""Moving registry aliases with a remembered history, so that a rollback knows where to go.

The history is replayed as a stack per model and alias: a promotion pushes a version, a
rollback pops back to an earlier one. "Roll back n versions" is the entry n below the top."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.errors import Conflict
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.tools.models import PromotionEvent

if TYPE_CHECKING:
    from sentimentops.core.model_registry import ModelRegistry
    from sentimentops.core.settings import Settings

BOOTSTRAP_ACTOR = "system:bootstrap"
SYSTEM_TENANT = "system"


def history(session: Session, *, model_name: str, alias: str) -> list[PromotionEvent]:
    query = (
        select(PromotionEvent)
        .where(PromotionEvent.model_name == model_name, PromotionEvent.alias == alias)
        .order_by(PromotionEvent.id)
    )
    return list(session.execute(query).scalars())


def lineage(events: list[PromotionEvent], current: str | None) -> list[str]:
    """The versions that were live, oldest first, ending with the current one."""
    stack: list[str] = []
    for event in events:
        if event.action == "promote" and event.version is not None:
            if not stack and event.previous_version is not None:
                # The alias pointed somewhere before its history began (a first production
                # model set before up recorded it): that version was live, so it is a rollback
                # target.
                stack.append(event.previous_version)
            if not stack or stack[-1] != event.version:
                stack.append(event.version)
        elif event.action == "rollback":
            while stack and stack[-1] != event.version:
                stack.pop()
    if current is not None and (not stack or stack[-1] != current):
        # The alias was moved outside the tools (e.g. by hand in MLflow): trust the registry.
        stack.append(current)
    return stack


def _record(
    session: Session,
    *,
    model_name: str,
    alias: str,
    action: str,
    version: str | None,
    previous: str | None,
    actor: str,
    tenant: str,
    workflow_id: str | None,
) -> None:
    session.add(
        PromotionEvent(
            model_name=model_name,
            alias=alias,
            action=action,
            version=version,
            previous_version=previous,
            actor=actor,
            tenant=tenant,
            workflow_id=workflow_id,
            created_at=datetime.now(UTC),
        )
    )
    audit.record(
        session,
        actor=actor,
        tenant=tenant,
        action=f"model.{action}:{alias}",
        resource=f"model/{model_name}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"version": version, "previous_version": previous, "workflow_id": workflow_id},
    )


def promote(
    session: Session,
    registry: ModelRegistry,
    *,
    model_name: str,
    version: str,
    alias: str,
    actor: str,
    tenant: str,
    workflow_id: str | None = None,
) -> str | None:
    """Point `alias` at `version`; returns the version it pointed at before."""
    found = registry.version_for_alias(model_name, alias)
    previous = found.version if found is not None else None
    if previous == version:
        return previous
    # History first (inside the caller's transaction), alias second: if the alias move fails,
    # the transaction rolls back and nothing claims a promotion that did not happen.
    _record(
        session,
        model_name=model_name,
        alias=alias,
        action="promote",
        version=version,
        previous=previous,
        actor=actor,
        tenant=tenant,
        workflow_id=workflow_id,
    )
    session.flush()
    registry.set_alias(model_name, alias, version)
    return previous


def rollback(
    session: Session,
    registry: ModelRegistry,
    *,
    model_name: str,
    alias: str,
    steps: int,
    actor: str,
    tenant: str,
    workflow_id: str | None = None,
) -> tuple[str | None, str | None]:
    """Move `alias` back `steps` versions; returns (from, to). Staging with no earlier version
    is removed (nothing in canary); production with none is refused."""
    found = registry.version_for_alias(model_name, alias)
    current = found.version if found is not None else None
    if current is None:
        raise Conflict(f"{model_name} has no {alias} version to roll back")
    live = lineage(history(session, model_name=model_name, alias=alias), current)
    if len(live) <= steps:
        if alias != "staging":
            raise Conflict(
                f"{model_name}@{alias} has {len(live) - 1} earlier version(s); "
                f"cannot roll back {steps}"
            )
        target: str | None = None
    else:
        target = live[-1 - steps]
    _record(
        session,
        model_name=model_name,
        alias=alias,
        action="rollback",
        version=target,
        previous=current,
        actor=actor,
        tenant=tenant,
        workflow_id=workflow_id,
    )
    session.flush()
    if target is None:
        registry.delete_alias(model_name, alias)
    else:
        registry.set_alias(model_name, alias, target)
    return current, target


def promote_first_production(settings: Settings, task: str, version: str) -> None:
    """A fresh install's first production model (the model pack's, or the first one trained),
    promoted like any other: in the history, so that rolling back a later version returns to
    it, and in the audit log, under `system:bootstrap` (`up` hands this to
    training/bootstrap.py)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            promote(
                session,
                MlflowRegistry(settings.resolved_mlflow_tracking_uri),
                model_name=task,
                version=version,
                alias="production",
                actor=BOOTSTRAP_ACTOR,
                tenant=SYSTEM_TENANT,
            )
    finally:
        engine.dispose()
