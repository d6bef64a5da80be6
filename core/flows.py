"""What a flow needs from whoever calls it.

A flow (`<domain>/flows.py`) does one user-level action end to end — check the named permission,
change the database in one transaction, talk to Temporal — so that the API, the CLI, and later
Slack and the agents call the same function and none of them re-orchestrates. The rule for who
commits: flows open transactions (through this context); services never commit a session they
were given; routers never commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.db import transaction
from sentimentops.core.errors import temporal_errors
from sentimentops.core.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")


@dataclass(frozen=True)
class FlowContext:
    settings: Settings
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    # Connects on first use (the API keeps one client per app; the CLI one per command).
    connect_temporal: Callable[[], Awaitable[Client]]

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction (committed when it returns), off the event loop."""

        def run() -> T:
            with transaction(self.sessions) as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a read-only session, off the event loop."""

        def run() -> T:
            with self.read_sessions() as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def temporal(self) -> Client:
        with temporal_errors("connecting to Temporal"):
            return await self.connect_temporal()
