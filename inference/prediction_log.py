"""Writing the prediction log off the request path.

Requests put rows on a bounded in-memory queue and never wait for the database; a background
task writes them in batches from a worker thread, keeping the text only for tenants that opted
in (that lookup happens there too, never on the request path). Failed requests travel the
same way into `scoring_failures`, the other half of the error rate. When the writer falls behind,
new rows are dropped and counted (sentimentops_prediction_log_dropped_total) rather than
slowing scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.db import transaction
from sentimentops.core.logging import get_logger
from sentimentops.inference.models import PredictionRecord, ScoringFailure

log = get_logger(__name__)


@dataclass(frozen=True)
class PredictionRow:
    tenant_id: str
    created_at: datetime
    task: str
    model_name: str
    model_version: str
    model_alias: str
    label: str
    probability: float
    latency_ms: float
    text_sha256: str
    text_chars: int
    text: str | None


@dataclass(frozen=True)
class FailureRow:
    tenant_id: str
    created_at: datetime
    task: str
    model_version: str | None
    model_alias: str | None
    reason: str
    texts: int


LogRow = PredictionRow | FailureRow


class PredictionLog:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_queue: int = 50_000,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        stores_texts: Callable[[str], bool] = lambda _tenant_id: False,
        on_drop: Callable[[int], None] = lambda _n: None,
    ) -> None:
        self._sessions = sessions
        self._stores_texts = stores_texts
        self._queue: asyncio.Queue[LogRow] = asyncio.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_drop = on_drop
        self._task: asyncio.Task[None] | None = None

    def add(self, rows: list[PredictionRow] | list[FailureRow]) -> None:
        dropped = 0
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except asyncio.QueueFull:
                dropped += 1
        if dropped:
            self._on_drop(dropped)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Write everything queued so far (used at shutdown and by tests)."""
        rows = self._drain(limit=None)
        if rows:
            await asyncio.to_thread(self._write, rows)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    def _drain(self, limit: int | None) -> list[LogRow]:
        rows: list[LogRow] = []
        while not self._queue.empty() and (limit is None or len(rows) < limit):
            rows.append(self._queue.get_nowait())
        return rows

    def _write(self, rows: list[LogRow]) -> None:
        predictions = [
            {**row.__dict__, "text": row.text if self._stores_texts(row.tenant_id) else None}
            for row in rows
            if isinstance(row, PredictionRow)
        ]
        failures = [row.__dict__ for row in rows if isinstance(row, FailureRow)]
        with transaction(self._sessions) as session:
            if predictions:
                session.execute(insert(PredictionRecord), predictions)
            if failures:
                session.execute(insert(ScoringFailure), failures)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            while rows := self._drain(limit=self._batch_size):
                try:
                    await asyncio.to_thread(self._write, rows)
                except Exception:
                    log.exception("prediction_log.write_failed", rows=len(rows))
                    self._on_drop(len(rows))
