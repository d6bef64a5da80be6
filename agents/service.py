"""Agent threads in the database: created by a person, visible only to them (another person's
thread, in this tenant or another, is NotFound like a missing one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentimentops.agents.models import AgentThread
from sentimentops.agents.schemas import AgentName
from sentimentops.core.audit import service as audit
from sentimentops.core.errors import NotFound
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import owned
from sentimentops.inference.models import CanaryShare


def create_thread(
    session: Session, *, principal: Principal, agent: AgentName, title: str | None
) -> AgentThread:
    now = datetime.now(UTC)
    row = AgentThread(
        id=uuid.uuid4().hex,
        tenant_id=principal.tenant_id,
        agent=agent,
        title=title,
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="agent.thread.create",
        resource=f"agent_thread/{row.id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"agent": agent},
    )
    return row


def get_thread(session: Session, *, principal: Principal, thread_id: str) -> AgentThread:
    row = session.execute(
        owned(AgentThread, principal).where(
            AgentThread.id == thread_id, AgentThread.created_by == principal.actor
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("agent thread not found")
    return row


def list_threads(session: Session, *, principal: Principal, limit: int = 50) -> list[AgentThread]:
    query = (
        owned(AgentThread, principal)
        .where(AgentThread.created_by == principal.actor)
        .order_by(AgentThread.updated_at.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def record_message(
    session: Session, *, principal: Principal, thread_id: str, action: str, length: int
) -> None:
    """A message or decision posted to a thread: audited (its length, not its text) and the
    thread's last activity moved."""
    row = session.get(AgentThread, thread_id)
    if row is not None:
        row.updated_at = datetime.now(UTC)
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action=action,
        resource=f"agent_thread/{thread_id}",
        outcome=AuditOutcome.REQUESTED,
        details={"chars": length},
    )


def canary_shares(session: Session, *, tenant_id: str) -> dict[str, float]:
    rows = session.execute(
        select(CanaryShare.task, CanaryShare.share).where(CanaryShare.tenant_id == tenant_id)
    ).all()
    return {str(task): float(share) for task, share in rows}
