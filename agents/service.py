"""Agent threads in the database: created by a person, visible only to them (another person's
thread, in this tenant or another, is NotFound like a missing one). The exception: the
deployment sentry's incident threads, written by the system for a tenant, are visible to every
chatter of that tenant (an incident concerns whoever is on call, not one person)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from sentimentops.agents.models import AgentThread
from sentimentops.agents.schemas import AgentName, DraftPlan
from sentimentops.core.audit import service as audit
from sentimentops.core.errors import Conflict, NotFound
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import owned, tenant_id_of
from sentimentops.inference.models import CanaryShare

# The author of the deployment sentry's incident threads (an audit actor, never a login).
INCIDENT_AUTHOR = "system:deployment-sentry"
# The Data Curation agent's reports on dataset versions: written by the system like incidents.
CURATION_AUTHOR = "system:data-curation"
_SYSTEM_AUTHORS = (INCIDENT_AUTHOR, CURATION_AUTHOR)


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


def create_incident_thread(
    session: Session,
    *,
    tenant: str,
    thread_id: str,
    title: str,
    tenant_id: str | None = None,
    agent: AgentName = "deployment-sentry",
) -> AgentThread:
    """The deployment sentry's thread `thread_id` for an incident of `tenant` (a slug; its id
    when the sentry carries it), or with `agent` "data-curation" the Data Curation agent's
    report on a dataset version: the one written before under that id (a retried activity), or
    a new one."""
    found = session.get(Tenant, tenant_id_of(session, tenant, known=tenant_id))
    if found is None:
        raise NotFound(f"tenant {tenant} not found")
    author = CURATION_AUTHOR if agent == "data-curation" else INCIDENT_AUTHOR
    existing = session.get(AgentThread, thread_id)
    if existing is not None:
        if existing.tenant_id != found.id or existing.created_by != author:
            raise Conflict(f"agent thread {thread_id} is not this incident's")
        return existing
    now = datetime.now(UTC)
    row = AgentThread(
        id=thread_id,
        tenant_id=found.id,
        agent=agent,
        title=title[:200],
        created_by=author,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=author,
        tenant=tenant,
        action="agent.thread.create",
        resource=f"agent_thread/{row.id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={"agent": agent, "incident": True},
    )
    return row


def _visible(principal: Principal) -> ColumnElement[bool]:
    return or_(
        AgentThread.created_by == principal.actor, AgentThread.created_by.in_(_SYSTEM_AUTHORS)
    )


def get_thread(session: Session, *, principal: Principal, thread_id: str) -> AgentThread:
    row = session.execute(
        owned(AgentThread, principal).where(AgentThread.id == thread_id, _visible(principal))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("agent thread not found")
    return row


def list_threads(session: Session, *, principal: Principal, limit: int = 50) -> list[AgentThread]:
    query = (
        owned(AgentThread, principal)
        .where(_visible(principal))
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


def record_proposal(
    session: Session, *, actor: str, tenant: str, thread_id: str, draft: DraftPlan
) -> None:
    """An agent's draft, audited under the agent's name with the thread, its revision, hash and
    tools (a person submits it later, and the plan workflow audits every step)."""
    audit.record(
        session,
        actor=actor,
        tenant=tenant,
        action="agent.propose",
        resource=f"agent_thread/{thread_id}",
        outcome=AuditOutcome.SUCCEEDED,
        details={
            "thread_id": thread_id,
            "revision": draft.revision,
            "plan_hash": draft.plan_hash,
            "tools": [step.tool for step in draft.steps],
        },
    )
