"""Writing and verifying the audit chain.

Each row's hash covers its own fields and the previous row's hash, so editing a row breaks its
own hash, deleting or reordering rows breaks the link to the neighbour, and truncating the tail
disagrees with the chain head. `verify_chain` reports the first row where that happens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sentimentops.core.audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _canonical_time(value: datetime) -> str:
    # SQLite returns naive datetimes; every stored time is UTC, so normalise before hashing.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    tenant: str,
    action: str,
    resource: str,
    outcome: str,
    trace_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    payload = {
        "seq": seq,
        "occurred_at": _canonical_time(occurred_at),
        "actor": actor,
        "tenant": tenant,
        "action": action,
        "resource": resource,
        "outcome": outcome,
        "trace_id": trace_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    tenant: str,
    action: str,
    resource: str,
    outcome: str,
    trace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction.

    The UPDATE of the head row takes a row lock (PostgreSQL) or the write lock (SQLite) before
    the new hash is computed, so concurrent writers queue instead of forking the chain.
    """
    details = json.loads(json.dumps(details or {}, default=str))
    head_row = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(last_seq=AuditChainHead.last_seq + 1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
    ).one()
    seq, prev_hash = int(head_row[0]), str(head_row[1])
    fields: dict[str, Any] = {
        "seq": seq,
        "occurred_at": datetime.now(UTC),
        "actor": actor,
        "tenant": tenant,
        "action": action,
        "resource": resource,
        "outcome": outcome,
        "trace_id": trace_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    row_hash = compute_hash(**fields)
    event = AuditEvent(**fields, row_hash=row_hash)
    session.add(event)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=row_hash))
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # "edited" | "deleted" | "reordered" | "truncated"
    message: str


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _recomputed(event: AuditEvent, *, seq: int | None = None) -> str:
    return compute_hash(
        seq=event.seq if seq is None else seq,
        occurred_at=event.occurred_at,
        actor=event.actor,
        tenant=event.tenant,
        action=event.action,
        resource=event.resource,
        outcome=event.outcome,
        trace_id=event.trace_id,
        details=event.details,
        prev_hash=event.prev_hash,
    )


# How far from its current position a moved row is searched for; bounded so that verifying a
# badly damaged log stays linear.
_REORDER_SEARCH_WINDOW = 256


def _original_seq(event: AuditEvent) -> int | None:
    """The sequence number a row was written with, if its contents are intact but it moved."""
    low = max(1, event.seq - _REORDER_SEARCH_WINDOW)
    for candidate in range(low, event.seq + _REORDER_SEARCH_WINDOW + 1):
        if candidate != event.seq and _recomputed(event, seq=candidate) == event.row_hash:
            return candidate
    return None


def _diagnose(events: Iterable[AuditEvent], head: AuditChainHead | None) -> VerifyReport:
    problems: list[ChainProblem] = []
    checked = 0
    expected_seq, expected_prev = 1, GENESIS_HASH
    for event in events:
        checked += 1
        if event.seq > expected_seq:
            missing = (
                f"{expected_seq}"
                if event.seq == expected_seq + 1
                else (f"{expected_seq}..{event.seq - 1}")
            )
            problems.append(
                ChainProblem(
                    event.seq, "deleted", f"row(s) {missing} missing before row {event.seq}"
                )
            )
        if _recomputed(event) != event.row_hash:
            original = _original_seq(event)
            if original is not None:
                problems.append(
                    ChainProblem(
                        event.seq,
                        "reordered",
                        f"row {event.seq}: holds the event written as row {original}",
                    )
                )
            else:
                problems.append(
                    ChainProblem(
                        event.seq, "edited", f"row {event.seq}: contents do not match its hash"
                    )
                )
        elif event.prev_hash != expected_prev and event.seq == expected_seq:
            problems.append(
                ChainProblem(
                    event.seq,
                    "reordered",
                    f"row {event.seq}: does not link to the row before it",
                )
            )
        expected_seq, expected_prev = event.seq + 1, event.row_hash
    last_seq = expected_seq - 1
    if head is not None and (head.last_seq != last_seq or head.last_hash != expected_prev):
        problems.append(
            ChainProblem(
                last_seq + 1,
                "truncated",
                f"chain head says the newest row is {head.last_seq}; "
                f"the log ends at row {last_seq}",
            )
        )
    return VerifyReport(checked=checked, problems=problems)


def verify_chain(session: Session) -> VerifyReport:
    """Walk the whole log in sequence order and report every break in the chain."""
    head = session.get(AuditChainHead, 1)
    events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    return _diagnose(events, head)


def recent(session: Session, *, limit: int = 20, tenant: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if tenant is not None:
        query = query.where(AuditEvent.tenant == tenant)
    return list(session.execute(query).scalars())


def count_since(
    session: Session,
    *,
    actor: str,
    tenant: str,
    action_prefix: str,
    outcomes: Iterable[str],
    since: datetime,
) -> int:
    """How many events of one actor in one tenant match an action prefix and outcomes since a
    time (e.g. an agent's tool calls in the last hour, for its policy budget)."""
    query = select(func.count()).where(
        AuditEvent.actor == actor,
        AuditEvent.tenant == tenant,
        AuditEvent.action.startswith(action_prefix),
        AuditEvent.outcome.in_(list(outcomes)),
        AuditEvent.occurred_at >= since,
    )
    return int(session.execute(query).scalar_one())
